using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Sso;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.Sso;

public sealed class StartOAuthSignInTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task Names_the_provider_by_name_or_id_and_answers_307()
    {
        var id = await CreateProviderAsync(new() { ["name"] = "GitLab Corp" });

        var byName = await Client.GetAsync("/v1/api/auth/oauth/gitlab%20corp/authorize");
        var byId = await Client.GetAsync($"/v1/api/auth/oauth/{id}/authorize");

        foreach (var response in new[] { byName, byId })
        {
            response.StatusCode.ShouldBe(HttpStatusCode.TemporaryRedirect);
            response.Headers.Location!.GetLeftPart(UriPartial.Path).ShouldBe($"{Oidc.Issuer}/authorize");
            var query = Query(response.Headers.Location!);
            query["redirect_uri"].ShouldBe($"http://localhost/v1/api/auth/oauth/{id}/callback");
            query["code_challenge_method"].ShouldBe("S256");
            Cookie(response, SsoFlow.StateCookieName(id)).ShouldBe(query["state"]);
            (await Fixture.ScalarAsync<string>("SELECT flow FROM identity.oauth_states WHERE state_hash = @Hash", new { Hash = SecretTokens.Hash(query["state"]) }))
                .ShouldBe("exchange");
        }
    }

    [Fact]
    public async Task Unknown_or_disabled_providers_are_404()
    {
        await CreateProviderAsync(new() { ["name"] = "Sleeping", ["enabled"] = false });

        (await (await Client.GetAsync("/v1/api/auth/oauth/nobody/authorize")).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Unknown or disabled provider");
        await (await Client.GetAsync("/v1/api/auth/oauth/sleeping/authorize")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task An_unreachable_issuer_is_503()
    {
        await CreateProviderAsync(new() { ["name"] = "offline", ["issuerUrl"] = "http://127.0.0.1:9" });

        await (await Client.GetAsync("/v1/api/auth/oauth/offline/authorize")).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable);
    }
}
