using Capstan.Features.Identity.AuthProviders;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity.AuthProviders;

public sealed class ListAuthProvidersTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task Lists_by_name()
    {
        await CreateProviderAsync("b-provider");
        await CreateProviderAsync("a-provider");
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var list = await Fixture.SendAsAsync(admin, new ListAuthProviders.Query());

        list.Providers.Select(provider => provider.Name).ShouldBe(["a-provider", "b-provider"]);
        list.Total.ShouldBe(2);
    }
}
