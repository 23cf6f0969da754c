using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.Accounts;

public sealed class UpdateProfileTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task Changes_the_display_name()
    {
        var (client, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        var body = await (await client.PutAsJsonAsync("/v1/api/profile", new { name = "  New Name  " })).ShouldBeJsonAsync();

        body.GetProperty("user").PropertyNames().ShouldBe(["id", "username", "email", "name", "role", "createdAt", "avatarUrl", "authProvider"]);
        body.GetProperty("user").GetProperty("name").GetString().ShouldBe("New Name");
        (await Fixture.ScalarAsync<string>("SELECT name FROM identity.users WHERE id = @Id", new { user.Id })).ShouldBe("New Name");
        (await Fixture.ScalarAsync<string>("SELECT resource_id FROM identity.audit_log WHERE action = 'profile.update'")).ShouldBe(user.Id.ToString());
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"name": "   "}""")]
    public async Task A_missing_name_is_400(string json)
    {
        var (client, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        var response = await client.PutAsync("/v1/api/profile", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString().ShouldBe("Name is required");
    }

    [Fact]
    public async Task Anonymous_is_401()
    {
        await (await Client.PutAsJsonAsync("/v1/api/profile", new { name = "x" })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }
}
