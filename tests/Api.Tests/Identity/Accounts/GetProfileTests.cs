using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.Accounts;

public sealed class GetProfileTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task Shows_the_callers_own_profile()
    {
        var (client, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        var body = await (await client.GetAsync("/v1/api/profile")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["user"]);
        var profile = body.GetProperty("user");
        profile.PropertyNames().ShouldBe(["id", "username", "email", "name", "role", "createdAt", "avatarUrl", "authProvider"]);
        profile.GetProperty("id").GetGuid().ShouldBe(user.Id);
        profile.GetProperty("email").GetString().ShouldBe(user.Email);
        profile.GetProperty("role").GetString().ShouldBe("viewer");
        profile.GetProperty("authProvider").GetString().ShouldBe("local");
    }

    [Fact]
    public async Task Anonymous_is_401()
    {
        await (await Client.GetAsync("/v1/api/profile")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }
}
