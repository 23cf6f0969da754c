using Capstan.Features.Identity.Sso;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;

namespace Capstan.Features.Tests.Identity.Sso;

public sealed class StartSsoLoginTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task Stores_a_single_use_state_bound_to_the_callback()
    {
        var provider = (await CreateProviderAsync()).Provider;

        var start = await Fixture.SendAsync(new StartSsoLogin.Command(provider.Id, "https://capstan.example.test"));

        start.AuthorizationUrl.ShouldStartWith($"{Oidc.Issuer}/authorize?");
        start.ExpiresAt.ShouldBe(DateTimeOffset.UtcNow.AddMinutes(10), TimeSpan.FromSeconds(30));
        var row = (await Fixture.QueryAsync<(string Flow, string RedirectUri)>(
            "SELECT flow, redirect_uri FROM identity.oauth_states WHERE state_hash = @Hash", new { Hash = SecretTokens.Hash(start.State) })).ShouldHaveSingleItem();
        row.ShouldBe(("session", $"https://capstan.example.test/api/v1/auth/{provider.Id}/callback"));
        Oidc.LastAuthorizeQuery.ShouldBeEmpty();
    }

    [Fact]
    public async Task Disabled_and_unknown_providers_are_refused()
    {
        var provider = (await CreateProviderAsync()).Provider;
        await Fixture.ExecuteAsync("UPDATE identity.auth_providers SET enabled = false");

        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsync(new StartSsoLogin.Command(provider.Id, "http://localhost")));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsync(new StartSsoLogin.Command(Guid.NewGuid(), "http://localhost")));
    }
}
