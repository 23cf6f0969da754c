using Capstan.Features.Identity.AuthProviders;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity;

/// <summary>Handler tests of the SSO and account slices: a database of their own and a fake OpenID Connect provider.</summary>
public sealed class IdentitySsoFixture : ApiFixture, IAsyncLifetime
{
    private FakeOidcProvider? _oidc;

    public FakeOidcProvider Oidc => _oidc ?? throw new InvalidOperationException("The fake provider is not started.");

    protected override string Purpose => "identityssofeatures";

    async Task IAsyncLifetime.InitializeAsync()
    {
        _oidc = await FakeOidcProvider.StartAsync();
        await InitializeAsync();
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (_oidc is not null)
        {
            await _oidc.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class IdentitySsoCollection : ICollectionFixture<IdentitySsoFixture>
{
    public const string Name = "identity-sso";
}

[Collection(IdentitySsoCollection.Name)]
public abstract class SsoHandlerTest(IdentitySsoFixture fixture) : HandlerTest<IdentitySsoFixture>(fixture)
{
    protected static readonly HttpClient Browser = new(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false });

    protected FakeOidcProvider Oidc => Fixture.Oidc;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Oidc.Reset();
    }

    protected Task SetSettingAsync(string key, string json) =>
        Fixture.ExecuteAsync(
            "INSERT INTO identity.settings (key, value) VALUES (@Key, CAST(@Json AS jsonb)) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            new { Key = key, Json = json });

    protected async Task<CreateAuthProvider.Response> CreateProviderAsync(string name = "corp", string type = "oidc", bool autoProvision = true)
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        return await Fixture.SendAsAsync(admin, new CreateAuthProvider.Command
        {
            Name = name,
            Type = type,
            ClientId = FakeOidcProvider.ClientId,
            ClientSecret = FakeOidcProvider.ClientSecret,
            IssuerUrl = Oidc.Issuer,
            AutoProvision = autoProvision,
            RoleMapping = System.Text.Json.JsonDocument.Parse("""{"admin": ["platform-admins"], "editor": ["developers"]}""").RootElement,
        });
    }

    /// <summary>Follows the provider's authorize URL and returns the code it hands back.</summary>
    protected static async Task<string> CodeFromProviderAsync(string authorizationUrl)
    {
        var response = await Browser.GetAsync(authorizationUrl);
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(response.Headers.Location!.Query);
        return query["code"].ToString();
    }
}
