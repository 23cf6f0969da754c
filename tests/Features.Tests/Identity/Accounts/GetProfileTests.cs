using Capstan.Features.Identity.Accounts;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity.Accounts;

public sealed class GetProfileTests(IdentitySsoFixture fixture) : SsoHandlerTest(fixture)
{
    [Fact]
    public async Task Reads_the_callers_own_profile()
    {
        await Fixture.CreateUserAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);

        var profile = await Fixture.SendAsAsync(user, new GetProfile.Query());

        profile.User.Id.ShouldBe(user.Id);
        profile.User.Role.ShouldBe("developer");
        profile.User.AuthProvider.ShouldBe("local");
    }
}
