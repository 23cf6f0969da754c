using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Sso;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.Sso;

public sealed class StartSsoLoginTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task Redirects_to_the_discovered_authorize_endpoint_with_pkce_state_and_nonce()
    {
        var id = await CreateProviderAsync();

        var response = await Client.GetAsync($"/api/v1/auth/{id}/login");

        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        var location = response.Headers.Location!;
        location.GetLeftPart(UriPartial.Path).ShouldBe($"{Oidc.Issuer}/authorize");
        var query = Query(location);
        query["response_type"].ShouldBe("code");
        query["client_id"].ShouldBe(FakeOidcProvider.ClientId);
        query["redirect_uri"].ShouldBe($"http://localhost/api/v1/auth/{id}/callback");
        query["scope"].ShouldBe("openid profile email");
        query["code_challenge_method"].ShouldBe("S256");
        query["code_challenge"].Length.ShouldBe(43);
        query["nonce"].Length.ShouldBeGreaterThanOrEqualTo(43);

        var setCookie = response.Headers.GetValues("Set-Cookie").Single(cookie => cookie.StartsWith(SsoFlow.StateCookieName(id), StringComparison.Ordinal));
        setCookie.ShouldContain("httponly", Case.Insensitive);
        setCookie.ShouldContain("samesite=lax", Case.Insensitive);
        Cookie(response, SsoFlow.StateCookieName(id)).ShouldBe(query["state"]);

        var stored = await Fixture.QueryAsync<(string Flow, string Nonce, string Verifier, double Minutes, string RedirectUri)>(
            "SELECT flow, nonce, code_verifier, extract(epoch FROM expires_at - created_at) / 60, redirect_uri FROM identity.oauth_states WHERE state_hash = @Hash",
            new { Hash = SecretTokens.Hash(query["state"]) });
        var row = stored.ShouldHaveSingleItem();
        row.Flow.ShouldBe("session");
        row.Nonce.ShouldBe(query["nonce"]);
        row.Verifier.ShouldNotBe(query["code_challenge"]);
        row.Minutes.ShouldBe(10, tolerance: 0.01);
        row.RedirectUri.ShouldBe(query["redirect_uri"]);
    }

    [Fact]
    public async Task Configured_endpoints_skip_discovery_and_pkce_can_be_switched_off()
    {
        var id = await CreateProviderAsync(new()
        {
            ["type"] = "oauth2-github",
            ["issuerUrl"] = null,
            ["scopes"] = "read:user user:email",
            ["usePkce"] = false,
            ["authorizationUrl"] = $"{Oidc.Issuer}/authorize?prompt=consent",
            ["tokenUrl"] = $"{Oidc.Issuer}/token",
            ["userInfoUrl"] = $"{Oidc.Issuer}/userinfo",
        });

        var response = await Client.GetAsync($"/api/v1/auth/{id}/login");

        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        var query = Query(response.Headers.Location!);
        query["prompt"].ShouldBe("consent");
        query["scope"].ShouldBe("read:user user:email");
        query.ShouldNotContainKey("code_challenge");
        query.ShouldNotContainKey("nonce");
    }

    [Fact]
    public async Task Unknown_is_404_disabled_403_and_a_malformed_id_400()
    {
        var disabled = await CreateProviderAsync(new() { ["enabled"] = false });

        (await (await Client.GetAsync($"/api/v1/auth/{Guid.NewGuid()}/login")).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Authentication provider not found");
        (await (await Client.GetAsync($"/api/v1/auth/{disabled}/login")).ShouldBeErrorAsync(HttpStatusCode.Forbidden))
            .GetProperty("message").GetString().ShouldBe("Authentication provider is disabled");
        await (await Client.GetAsync("/api/v1/auth/not-a-guid/login")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task An_unreachable_issuer_is_503_naming_the_provider()
    {
        var id = await CreateProviderAsync(new() { ["name"] = "Offline", ["issuerUrl"] = "http://127.0.0.1:9/realms/none" });

        var response = await Client.GetAsync($"/api/v1/auth/{id}/login");

        (await response.ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable)).GetProperty("message").GetString()!.ShouldContain("'Offline'");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.oauth_states")).ShouldBe(0);
    }

    [Fact]
    public async Task More_than_ten_starts_a_minute_from_one_address_is_429()
    {
        var id = await CreateProviderAsync();
        for (var i = 0; i < 10; i++)
        {
            (await Client.GetAsync($"/api/v1/auth/{id}/login")).StatusCode.ShouldBe(HttpStatusCode.Redirect);
        }

        var limited = await Client.GetAsync($"/api/v1/auth/{id}/login");

        await limited.ShouldBeErrorAsync(HttpStatusCode.TooManyRequests);
        limited.Headers.RetryAfter.ShouldNotBeNull();
    }
}
