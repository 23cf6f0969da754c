using System.Security.Cryptography;
using System.Text.Json;
using Capstan.Features.Identity.AuthProviders;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Sso;
using Capstan.Tests.Support;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Identity.AuthProviders;

public sealed class CreateAuthProviderTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    private static CreateAuthProvider.Command Valid => new()
    {
        Name = "corp",
        Type = "oidc",
        ClientId = "client",
        ClientSecret = "secret",
        IssuerUrl = "https://sso.example.com",
    };

    public static TheoryData<string, CreateAuthProvider.Command, bool> Cases => new()
    {
        { "minimal oidc", Valid, true },
        { "github without issuer", Valid with { Type = "oauth2-github", IssuerUrl = null, Scopes = "read:user" }, true },
        { "google without issuer", Valid with { Type = "oauth2-google", IssuerUrl = null }, true },
        { "generic without issuer", Valid with { Type = "oauth2-generic", IssuerUrl = null }, false },
        { "http on localhost", Valid with { IssuerUrl = "http://localhost:8080/realms/x" }, true },
        { "http on 127.0.0.1", Valid with { TokenUrl = "http://127.0.0.1:9000/token" }, true },
        { "http on ::1", Valid with { JwksUrl = "http://[::1]:9000/jwks" }, true },
        { "http elsewhere", Valid with { IssuerUrl = "http://10.0.0.1/realms/x" }, false },
        { "url with fragment", Valid with { AuthorizationUrl = "https://sso.example.com/auth#x" }, false },
        { "nested claim path", Valid with { RoleClaim = "realm_access.roles" }, true },
        { "claim path with dash", Valid with { EmailClaim = "mail-address" }, false },
        { "role alias", Valid with { DefaultRole = "user" }, true },
        { "mapping as JSON string", Valid with { RoleMapping = JsonSerializer.SerializeToElement("{\"viewer\": [\"all\"]}") }, true },
        { "mapping with number groups", Valid with { RoleMapping = JsonSerializer.SerializeToElement(new { admin = new[] { 1 } }) }, false },
        { "github scopes need no openid", Valid with { Type = "oauth2-github", IssuerUrl = null, Scopes = "user:email" }, true },
        { "oidc scopes need openid", Valid with { Scopes = "profile" }, false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_validator_applies_gyres_rules(string name, CreateAuthProvider.Command command, bool valid) =>
        new CreateAuthProvider.Validator().Validate(command).IsValid.ShouldBe(valid, name);

    [Fact]
    public async Task The_handler_encrypts_the_secret_for_its_row_and_audits()
    {
        var created = await CreateProviderAsync();

        created.Provider.ClientSecretEncrypted.ShouldBe("***");
        var stored = await Fixture.ScalarAsync<byte[]>("SELECT client_secret FROM identity.auth_providers WHERE id = @Id", new { created.Provider.Id });
        var cipher = Fixture.Services.GetRequiredService<EnvelopeCipher>();
        cipher.DecryptString(stored!, SsoProvider.SecretBinding(created.Provider.Id)).ShouldBe(FakeOidcProvider.ClientSecret);
        Should.Throw<CryptographicException>(() => cipher.DecryptString(stored!, SsoProvider.SecretBinding(Guid.NewGuid())));
        (await Fixture.ScalarAsync<string>("SELECT metadata->>'type' FROM identity.audit_log WHERE action = 'auth_provider.create'")).ShouldBe("oidc");
    }

    [Fact]
    public async Task A_second_provider_with_the_same_name_is_refused()
    {
        await CreateProviderAsync("Corp");

        await Should.ThrowAsync<Capstan.Infrastructure.Errors.ConflictException>(() => CreateProviderAsync("corp"));
    }

    [Fact]
    public async Task Invalid_input_never_reaches_the_database()
    {
        var admin = await Fixture.CreateUserAsync(Capstan.Infrastructure.Security.BaseRole.Admin);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, Valid with { ClientSecret = null }));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.auth_providers")).ShouldBe(0);
    }
}
