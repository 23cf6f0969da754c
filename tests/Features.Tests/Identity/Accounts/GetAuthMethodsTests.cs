using Capstan.Features.Identity.Accounts;

namespace Capstan.Features.Tests.Identity.Accounts;

public sealed class GetAuthMethodsTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task Lists_enabled_providers_and_the_builtin_switches()
    {
        await CreateProviderAsync("shown");
        await CreateProviderAsync("hidden");
        await Fixture.ExecuteAsync("UPDATE identity.auth_providers SET enabled = false WHERE name = 'hidden'");

        var methods = await Fixture.SendAsync(new GetAuthMethods.Query());

        methods.Builtin.ShouldBe(new GetAuthMethods.Builtin(true, true, true));
        methods.Providers.Select(provider => (provider.Name, provider.Icon)).ShouldBe([("shown", "oidc")]);
    }
}
