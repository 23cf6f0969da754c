using System.Net;
using System.Net.Http.Json;
using System.Text;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Sso;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Identity.AuthProviders;

public sealed class UpdateAuthProviderTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task Changes_only_the_fields_sent()
    {
        var id = await CreateProviderAsync(new() { ["jwksUrl"] = "https://sso.example.com/jwks" });
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PatchAsJsonAsync($"/api/v1/admin/auth-providers/{id}", new { name = "Renamed", enabled = false, defaultRole = "editor" });

        var body = await response.ShouldBeJsonAsync();
        body.PropertyNames().ShouldBe(["success", "provider"]);
        var provider = body.GetProperty("provider");
        provider.PropertyNames().ShouldBe(CreateAuthProviderTests.ProviderFields);
        provider.GetProperty("name").GetString().ShouldBe("Renamed");
        provider.GetProperty("enabled").GetBoolean().ShouldBeFalse();
        provider.GetProperty("defaultRole").GetString().ShouldBe("operator");
        provider.GetProperty("jwksUrl").GetString().ShouldBe("https://sso.example.com/jwks");
        provider.GetProperty("clientId").GetString().ShouldBe(FakeOidcProvider.ClientId);
        provider.GetProperty("roleMapping").GetProperty("admin")[0].GetString().ShouldBe("platform-admins");
    }

    [Fact]
    public async Task Null_or_empty_clears_urls_and_the_role_mapping()
    {
        var id = await CreateProviderAsync(new() { ["jwksUrl"] = "https://sso.example.com/jwks", ["tokenUrl"] = "https://sso.example.com/token" });
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PatchAsync(
            $"/api/v1/admin/auth-providers/{id}",
            new StringContent("""{"jwksUrl": null, "tokenUrl": "", "roleMapping": null}""", Encoding.UTF8, "application/json"));

        var provider = (await response.ShouldBeJsonAsync()).GetProperty("provider");
        provider.GetProperty("jwksUrl").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        provider.GetProperty("tokenUrl").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        provider.GetProperty("roleMapping").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        provider.GetProperty("issuerUrl").GetString().ShouldBe(Oidc.Issuer);
    }

    [Fact]
    public async Task A_new_secret_is_re_encrypted_and_audited_by_name_only()
    {
        var id = await CreateProviderAsync(new() { ["clientSecret"] = "first-secret" });
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PatchAsJsonAsync($"/api/v1/admin/auth-providers/{id}", new { clientSecret = "rotated-secret-456" });

        (await response.Content.ReadAsStringAsync()).ShouldNotContain("rotated-secret-456");
        (await response.ShouldBeJsonAsync()).GetProperty("provider").GetProperty("clientSecretEncrypted").GetString().ShouldBe("***");
        var stored = await Fixture.ScalarAsync<byte[]>("SELECT client_secret FROM identity.auth_providers WHERE id = @Id", new { Id = id });
        Fixture.Services.GetRequiredService<EnvelopeCipher>().DecryptString(stored!, SsoProvider.SecretBinding(id)).ShouldBe("rotated-secret-456");
        var metadata = await Fixture.ScalarAsync<string>("SELECT metadata::text FROM identity.audit_log WHERE action = 'auth_provider.update'");
        metadata.ShouldBe("""{"changed": ["clientSecret"]}""");
    }

    [Theory]
    [InlineData("""{"issuerUrl": "http://sso.example.com"}""", "issuerUrl")]
    [InlineData("""{"issuerUrl": null}""", "issuerUrl")]
    [InlineData("""{"issuerUrl": 42}""", "issuerUrl")]
    [InlineData("""{"name": ""}""", "name")]
    [InlineData("""{"type": "ldap"}""", "type")]
    [InlineData("""{"clientSecret": ""}""", "clientSecret")]
    [InlineData("""{"roleClaim": "a b"}""", "roleClaim")]
    [InlineData("""{"scopes": "email"}""", "scopes")]
    [InlineData("""{"roleMapping": {"root": ["x"]}}""", "roleMapping")]
    [InlineData("""{"defaultRole": "superuser"}""", "defaultRole")]
    public async Task Each_rule_is_a_400_naming_the_field(string json, string field)
    {
        var id = await CreateProviderAsync();
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PatchAsync($"/api/v1/admin/auth-providers/{id}", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Turning_a_github_provider_into_oidc_needs_an_issuer()
    {
        var id = await CreateProviderAsync(new() { ["type"] = "oauth2-github", ["issuerUrl"] = null, ["scopes"] = "read:user" });
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PatchAsJsonAsync($"/api/v1/admin/auth-providers/{id}", new { type = "oidc", scopes = "openid email" });

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("issuerUrl", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Unknown_is_404_and_a_taken_name_409()
    {
        var id = await CreateProviderAsync();
        await CreateProviderAsync(new() { ["name"] = "Taken" });
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        await (await admin.PatchAsJsonAsync($"/api/v1/admin/auth-providers/{Guid.NewGuid()}", new { enabled = false })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.PatchAsJsonAsync($"/api/v1/admin/auth-providers/{id}", new { name = "taken" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_403()
    {
        var id = await CreateProviderAsync();
        await (await Client.PatchAsJsonAsync($"/api/v1/admin/auth-providers/{id}", new { enabled = false })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        var (operatorClient, _) = await Fixture.ClientAsAsync(BaseRole.Operator);
        await (await operatorClient.PatchAsJsonAsync($"/api/v1/admin/auth-providers/{id}", new { enabled = false })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }
}
