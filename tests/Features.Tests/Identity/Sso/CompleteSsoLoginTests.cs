using Capstan.Features.Identity.Sso;
using Capstan.Infrastructure.Sso;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity.Sso;

public sealed class CompleteSsoLoginTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task A_valid_callback_starts_a_session_for_the_provisioned_user()
    {
        await SetSettingAsync("auth.allowSignup", "true");
        var provider = (await CreateProviderAsync()).Provider;
        var start = await Fixture.SendAsync(new StartSsoLogin.Command(provider.Id, "http://localhost"));
        var code = await CodeFromProviderAsync(start.AuthorizationUrl);

        var outcome = await Fixture.SendAsync(new CompleteSsoLogin.Command(provider.Id, code, start.State, null, start.State, null));

        outcome.Reason.ShouldBeNull();
        outcome.Session.ShouldNotBeNull();
        var userId = await Fixture.ScalarAsync<Guid>("SELECT user_id FROM identity.sessions WHERE id = @Id", new { Id = outcome.Session.SessionId });
        (await Fixture.ScalarAsync<string>("SELECT username FROM identity.users WHERE id = @Id", new { Id = userId })).ShouldBe("alice");
    }

    [Fact]
    public async Task The_state_must_match_the_browser_cookie_and_exist()
    {
        await SetSettingAsync("auth.allowSignup", "true");
        var provider = (await CreateProviderAsync()).Provider;
        var start = await Fixture.SendAsync(new StartSsoLogin.Command(provider.Id, "http://localhost"));
        var code = await CodeFromProviderAsync(start.AuthorizationUrl);

        (await Fixture.SendAsync(new CompleteSsoLogin.Command(provider.Id, code, start.State, null, "another-browser", null))).Reason.ShouldBe(SsoReasons.InvalidState);
        (await Fixture.SendAsync(new CompleteSsoLogin.Command(provider.Id, code, "made-up", null, "made-up", null))).Reason.ShouldBe(SsoReasons.InvalidState);
        (await Fixture.SendAsync(new CompleteSsoLogin.Command(provider.Id, null, start.State, null, start.State, null))).Reason.ShouldBe(SsoReasons.InvalidRequest);
        // The row was consumed by the attempt without a code: single use.
        (await Fixture.SendAsync(new CompleteSsoLogin.Command(provider.Id, code, start.State, null, start.State, null))).Reason.ShouldBe(SsoReasons.InvalidState);
        Oidc.TokenRequests.ShouldBe(0);
    }

    [Fact]
    public async Task Provisioning_refusals_come_back_as_reasons()
    {
        var provider = (await CreateProviderAsync(autoProvision: false)).Provider;

        (await RunAsync(provider.Id)).Reason.ShouldBe(SsoReasons.SignupDisabled);
        await SetSettingAsync("auth.allowSignup", "true");
        (await RunAsync(provider.Id)).Reason.ShouldBe(SsoReasons.AutoProvisionDisabled);
        Oidc.User = FakeOidcProvider.DefaultUser with { Subject = "x" };
        Oidc.Fault = IdTokenFault.WrongNonce;
        (await RunAsync(provider.Id)).Reason.ShouldBe("invalid_id_token");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'auth.sso_login' AND result = 'denied'")).ShouldBe(3);
    }

    private async Task<CompleteSsoLogin.Outcome> RunAsync(Guid providerId)
    {
        var start = await Fixture.SendAsync(new StartSsoLogin.Command(providerId, "http://localhost"));
        var code = await CodeFromProviderAsync(start.AuthorizationUrl);
        return await Fixture.SendAsync(new CompleteSsoLogin.Command(providerId, code, start.State, null, start.State, null));
    }
}
