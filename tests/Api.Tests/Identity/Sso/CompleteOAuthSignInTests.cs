using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.Sso;

public sealed class CompleteOAuthSignInTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task Success_hands_the_front_end_a_one_time_code_and_no_cookie_session()
    {
        await AllowSignupAsync();
        var id = await CreateProviderAsync(new() { ["name"] = "github-like" });

        var run = await RunFlowAsync("/v1/api/auth/oauth/github-like/authorize");

        run.Callback.StatusCode.ShouldBe(HttpStatusCode.TemporaryRedirect);
        var location = run.Callback.Headers.Location!.ToString();
        location.ShouldStartWith("/auth/callback?code=");
        var code = Query(location)["code"];
        Cookie(run.Callback, SessionCookies.SessionName).ShouldBeNull();
        (await Fixture.ScalarAsync<double>("SELECT extract(epoch FROM expires_at - created_at) FROM identity.oauth_exchange_codes WHERE code_hash = @Hash", new { Hash = SecretTokens.Hash(code) }))
            .ShouldBe(30, tolerance: 0.01);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.sessions")).ShouldBe(0);
        (await Fixture.ScalarAsync<string>("SELECT subject FROM identity.external_accounts WHERE provider_id = @Id", new { Id = id })).ShouldBe("subject-0001");

        var exchanged = await Client.PostAsJsonAsync("/v1/api/auth/oauth/exchange", new { code });
        (await exchanged.ShouldBeJsonAsync()).GetProperty("user").GetProperty("username").GetString().ShouldBe("alice");
    }

    [Fact]
    public async Task Failures_go_to_the_front_end_login_page()
    {
        await CreateProviderAsync(new() { ["name"] = "corp" });

        var closed = await RunFlowAsync("/v1/api/auth/oauth/corp/authorize");
        closed.Callback.StatusCode.ShouldBe(HttpStatusCode.TemporaryRedirect);
        closed.Callback.Headers.Location!.ToString().ShouldBe("/login?error=signup_disabled");

        await AllowSignupAsync();
        var forged = await RunFlowAsync("/v1/api/auth/oauth/corp/authorize", _ => string.Empty);
        forged.Callback.Headers.Location!.ToString().ShouldBe("/login?error=invalid_state");

        var unknown = await Client.GetAsync("/v1/api/auth/oauth/nobody/callback?code=x&state=y");
        unknown.StatusCode.ShouldBe(HttpStatusCode.TemporaryRedirect);
        unknown.Headers.Location!.ToString().ShouldBe("/login?error=provider_not_found");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.oauth_exchange_codes")).ShouldBe(0);
    }

    [Fact]
    public async Task A_session_flow_state_does_not_finish_an_exchange_flow()
    {
        await AllowSignupAsync();
        var id = await CreateProviderAsync();
        var start = await Client.GetAsync($"/api/v1/auth/{id}/login");
        var state = Query(start.Headers.Location!)["state"];

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/api/auth/oauth/{id}/callback?code=anything&state={Uri.EscapeDataString(state)}");
        request.Headers.Add("Cookie", CookieHeader(start));
        var response = await Client.SendAsync(request);

        response.Headers.Location!.ToString().ShouldBe("/login?error=invalid_state");
        Oidc.TokenRequests.ShouldBe(0);
    }
}

/// <summary>A host whose front end and public address are configured.</summary>
public sealed class ConfiguredUrlsFixture : ApiFixture
{
    protected override string Purpose => "ssourls";

    protected override ApiFactory CreateFactory(string connectionString) => new(connectionString, new Dictionary<string, string?>
    {
        ["Identity:FrontendUrl"] = "https://ui.example.test/",
        ["Identity:PublicUrl"] = "https://api.example.test/",
    });
}

public sealed class OAuthConfiguredUrlsTests(ConfiguredUrlsFixture fixture) : IClassFixture<ConfiguredUrlsFixture>, IAsyncLifetime
{
    private FakeOidcProvider _oidc = null!;

    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        _oidc = await FakeOidcProvider.StartAsync();
    }

    public async Task DisposeAsync() => await _oidc.DisposeAsync();

    [Fact]
    public async Task Redirects_use_the_configured_front_end_and_public_urls()
    {
        var (admin, _) = await fixture.ClientAsAsync(BaseRole.Admin);
        var created = await admin.PostAsJsonAsync("/api/v1/admin/auth-providers", new
        {
            name = "corp",
            type = "oidc",
            clientId = FakeOidcProvider.ClientId,
            clientSecret = FakeOidcProvider.ClientSecret,
            issuerUrl = _oidc.Issuer,
        });
        await created.ShouldBeJsonAsync(HttpStatusCode.Created);
        var anonymous = fixture.CreateClient();

        var start = await anonymous.GetAsync("/v1/api/auth/oauth/corp/authorize");
        var redirectUri = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(start.Headers.Location!.Query)["redirect_uri"].ToString();
        redirectUri.ShouldStartWith("https://api.example.test/v1/api/auth/oauth/");

        var failed = await anonymous.GetAsync("/v1/api/auth/oauth/corp/callback?error=access_denied");
        failed.Headers.Location!.ToString().ShouldBe("https://ui.example.test/login?error=access_denied");
    }
}
