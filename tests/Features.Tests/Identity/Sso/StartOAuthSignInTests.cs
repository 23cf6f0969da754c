using Capstan.Features.Identity.Sso;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;

namespace Capstan.Features.Tests.Identity.Sso;

public sealed class StartOAuthSignInTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task Finds_the_provider_by_name_and_stores_an_exchange_flow()
    {
        var provider = (await CreateProviderAsync("GitHub Enterprise")).Provider;

        var started = await Fixture.SendAsync(new StartOAuthSignIn.Command("github enterprise", "https://capstan.example.test"));

        started.ProviderId.ShouldBe(provider.Id);
        (await Fixture.ScalarAsync<string>("SELECT flow FROM identity.oauth_states WHERE state_hash = @Hash", new { Hash = SecretTokens.Hash(started.Start.State) }))
            .ShouldBe("exchange");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsync(new StartOAuthSignIn.Command("gitlab", "https://capstan.example.test")));
    }
}
