using Capstan.Features.Identity.AuthProviders;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity.AuthProviders;

public sealed class GetAuthProviderTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task Reads_one_provider_or_throws_not_found()
    {
        var created = await CreateProviderAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        (await Fixture.SendAsAsync(admin, new GetAuthProvider.Query(created.Provider.Id))).Provider.Name.ShouldBe(created.Provider.Name);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new GetAuthProvider.Query(Guid.NewGuid())));
    }
}
