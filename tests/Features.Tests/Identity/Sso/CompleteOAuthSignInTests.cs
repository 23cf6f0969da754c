using Capstan.Features.Identity.Sso;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Sso;

namespace Capstan.Features.Tests.Identity.Sso;

public sealed class CompleteOAuthSignInTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task Success_stores_only_the_hash_of_a_thirty_second_code()
    {
        await SetSettingAsync("auth.allowSignup", "true");
        var provider = (await CreateProviderAsync()).Provider;
        var started = await Fixture.SendAsync(new StartOAuthSignIn.Command("corp", "http://localhost"));
        var code = await CodeFromProviderAsync(started.Start.AuthorizationUrl);

        var outcome = await Fixture.SendAsync(new CompleteOAuthSignIn.Command(
            provider.Id.ToString(), code, started.Start.State, null, new Dictionary<string, string> { [SsoFlow.StateCookieName(provider.Id)] = started.Start.State }));

        outcome.Reason.ShouldBeNull();
        outcome.ExchangeCode.ShouldNotBeNullOrEmpty();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.oauth_exchange_codes WHERE code_hash = @Hash", new { Hash = SecretTokens.Hash(outcome.ExchangeCode) })).ShouldBe(1);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.sessions")).ShouldBe(0);
    }

    [Fact]
    public async Task An_unknown_provider_name_is_a_reason_not_an_error()
    {
        var outcome = await Fixture.SendAsync(new CompleteOAuthSignIn.Command("nobody", "c", "s", null, new Dictionary<string, string>()));

        outcome.ShouldBe(new CompleteOAuthSignIn.Outcome(null, SsoReasons.ProviderNotFound, null));
    }
}
