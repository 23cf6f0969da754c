using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Sso;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Identity.AuthProviders;

public sealed class CreateAuthProviderTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    public static readonly string[] ProviderFields =
    [
        "id", "name", "type", "enabled", "clientId", "clientSecretEncrypted", "issuerUrl", "authorizationUrl", "tokenUrl", "userInfoUrl",
        "jwksUrl", "autoProvision", "defaultRole", "roleMapping", "roleClaim", "usernameClaim", "emailClaim", "usePkce", "scopes", "createdAt",
        "updatedAt",
    ];

    [Fact]
    public async Task Creates_with_gyre_defaults_and_never_shows_the_secret()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PostAsJsonAsync("/api/v1/admin/auth-providers", new
        {
            name = "  Keycloak  ",
            type = "oidc",
            clientId = "capstan",
            clientSecret = "s3cret-value-for-create",
            issuerUrl = "https://sso.example.com/realms/main",
        });

        var text = await response.Content.ReadAsStringAsync();
        text.ShouldNotContain("s3cret-value-for-create");
        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(["success", "provider"]);
        body.GetProperty("success").GetBoolean().ShouldBeTrue();
        var provider = body.GetProperty("provider");
        provider.PropertyNames().ShouldBe(ProviderFields);
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/admin/auth-providers/{provider.GetProperty("id").GetGuid()}");
        provider.GetProperty("name").GetString().ShouldBe("Keycloak");
        provider.GetProperty("clientSecretEncrypted").GetString().ShouldBe("***");
        provider.GetProperty("enabled").GetBoolean().ShouldBeTrue();
        provider.GetProperty("autoProvision").GetBoolean().ShouldBeTrue();
        provider.GetProperty("usePkce").GetBoolean().ShouldBeTrue();
        provider.GetProperty("defaultRole").GetString().ShouldBe("viewer");
        provider.GetProperty("roleClaim").GetString().ShouldBe("groups");
        provider.GetProperty("usernameClaim").GetString().ShouldBe("preferred_username");
        provider.GetProperty("emailClaim").GetString().ShouldBe("email");
        provider.GetProperty("scopes").GetString().ShouldBe("openid profile email");
        provider.GetProperty("roleMapping").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        provider.GetProperty("authorizationUrl").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
    }

    [Fact]
    public async Task The_secret_is_stored_encrypted_and_bound_to_its_row()
    {
        var id = await CreateProviderAsync(new() { ["clientSecret"] = "bound-secret-123" });
        var other = await CreateProviderAsync(new() { ["name"] = "Other" });

        var stored = await Fixture.ScalarAsync<byte[]>("SELECT client_secret FROM identity.auth_providers WHERE id = @Id", new { Id = id });
        System.Text.Encoding.UTF8.GetString(stored!).ShouldNotContain("bound-secret-123");
        var cipher = Fixture.Services.GetRequiredService<EnvelopeCipher>();
        cipher.DecryptString(stored!, SsoProvider.SecretBinding(id)).ShouldBe("bound-secret-123");
        Should.Throw<CryptographicException>(() => cipher.DecryptString(stored!, SsoProvider.SecretBinding(other)));
    }

    [Fact]
    public async Task Accepts_the_role_mapping_as_a_json_string_and_role_aliases()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PostAsJsonAsync("/api/v1/admin/auth-providers", ProviderBody(new()
        {
            ["roleMapping"] = "{\"admin\": [\"ops\"], \"editor\": \"devs\"}",
            ["defaultRole"] = "EDITOR",
            ["type"] = "oauth2-generic",
            ["scopes"] = "  openid   groups ",
        }));

        var provider = (await response.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("provider");
        provider.GetProperty("defaultRole").GetString().ShouldBe("operator");
        provider.GetProperty("scopes").GetString().ShouldBe("openid groups");
        provider.GetProperty("roleMapping").GetProperty("admin")[0].GetString().ShouldBe("ops");
        provider.GetProperty("roleMapping").GetProperty("editor")[0].GetString().ShouldBe("devs");
    }

    [Fact]
    public async Task Github_needs_no_issuer_and_http_is_allowed_for_localhost()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PostAsJsonAsync("/api/v1/admin/auth-providers", new
        {
            name = "GitHub",
            type = "oauth2-github",
            clientId = "gh",
            clientSecret = "gh-secret",
            scopes = "read:user user:email",
            authorizationUrl = "http://localhost:9999/authorize",
            tokenUrl = "http://127.0.0.1:9999/token",
        });

        await response.ShouldBeJsonAsync(HttpStatusCode.Created);
    }

    [Fact]
    public async Task Every_change_is_audited_without_the_secret()
    {
        var id = await CreateProviderAsync(new() { ["clientSecret"] = "audited-secret-987" });

        var rows = await Fixture.QueryAsync<(string ResourceId, string Metadata)>(
            "SELECT resource_id, metadata::text FROM identity.audit_log WHERE action = 'auth_provider.create'");
        rows.ShouldHaveSingleItem().ResourceId.ShouldBe(id.ToString());
        rows[0].Metadata.ShouldNotContain("audited-secret-987");
        Fixture.Logs.All.ShouldNotContain("audited-secret-987");
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_403()
    {
        (await Client.PostAsJsonAsync("/api/v1/admin/auth-providers", ProviderBody())).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

        var (operatorClient, _) = await Fixture.ClientAsAsync(BaseRole.Operator);
        await (await operatorClient.PostAsJsonAsync("/api/v1/admin/auth-providers", ProviderBody())).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.auth_providers")).ShouldBe(0);
    }

    [Theory]
    [InlineData("name", null, "name")]
    [InlineData("type", null, "type")]
    [InlineData("type", "saml", "type")]
    [InlineData("clientId", "", "clientId")]
    [InlineData("clientSecret", null, "clientSecret")]
    [InlineData("issuerUrl", null, "issuerUrl")]
    [InlineData("issuerUrl", "http://sso.example.com", "issuerUrl")]
    [InlineData("issuerUrl", "/realms/main", "issuerUrl")]
    [InlineData("tokenUrl", "ftp://sso.example.com/token", "tokenUrl")]
    [InlineData("userInfoUrl", "https://user:pw@sso.example.com/userinfo", "userInfoUrl")]
    [InlineData("jwksUrl", "not a url", "jwksUrl")]
    [InlineData("roleClaim", "groups[0]", "roleClaim")]
    [InlineData("usernameClaim", "preferred username", "usernameClaim")]
    [InlineData("emailClaim", "e-mail", "emailClaim")]
    [InlineData("scopes", "   ", "scopes")]
    [InlineData("scopes", "profile email", "scopes")]
    [InlineData("defaultRole", "owner", "defaultRole")]
    [InlineData("roleMapping", "{\"owner\": [\"x\"]}", "roleMapping")]
    [InlineData("roleMapping", "{not json", "roleMapping")]
    [InlineData("roleMapping", "[\"admin\"]", "roleMapping")]
    [InlineData("roleMapping", "{\"admin\": [1, 2]}", "roleMapping")]
    public async Task Each_rule_is_a_400_naming_the_field(string field, string? value, string detail)
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PostAsJsonAsync("/api/v1/admin/auth-providers", ProviderBody(new() { [field] = value }));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(detail, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task A_taken_name_is_409_whatever_its_case()
    {
        await CreateProviderAsync(new() { ["name"] = "Okta" });
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PostAsJsonAsync("/api/v1/admin/auth-providers", ProviderBody(new() { ["name"] = "OKTA" }));

        (await response.ShouldBeErrorAsync(HttpStatusCode.Conflict)).GetProperty("message").GetString().ShouldBe("An auth provider with this name already exists");
    }
}
