using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class ListRolesOfUserTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    [Fact]
    public async Task A_viewer_lists_one_users_assignments()
    {
        var alice = await Fixture.CreateUserAsync();
        var bob = await Fixture.CreateUserAsync();
        var auditors = await CreateRoleAsync("auditors", "audit.read");
        var first = await AssignAsync(alice.Id, ApproverRoleId, new { team_id = "t1" });
        var second = await AssignAsync(alice.Id, auditors);
        await AssignAsync(bob.Id, auditors);
        var viewer = await ClientAsync(BaseRole.Viewer);

        var body = await (await viewer.GetAsync($"/api/v1/users/{alice.Id}/roles")).ShouldBeJsonAsync();

        var assignments = body.EnumerateArray().ToList();
        assignments.Select(item => item.GetProperty("id").GetGuid()).ShouldBe([first, second]);
        assignments.ShouldAllBe(item => item.PropertyNames().SequenceEqual(new[] { "id", "user_id", "role_id", "scope", "granted_by", "granted_at" }));
        assignments.ShouldAllBe(item => item.GetProperty("user_id").GetGuid() == alice.Id);
        assignments[0].GetProperty("scope").GetProperty("team_id").GetString().ShouldBe("t1");
    }

    [Fact]
    public async Task A_user_without_assignments_gets_an_empty_array()
    {
        var user = await Fixture.CreateUserAsync();
        var viewer = await ClientAsync(BaseRole.Viewer);

        (await (await viewer.GetAsync($"/api/v1/users/{user.Id}/roles")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task An_unknown_user_is_404_and_a_malformed_id_is_400()
    {
        var viewer = await ClientAsync(BaseRole.Viewer);

        (await (await viewer.GetAsync($"/api/v1/users/{Guid.CreateVersion7()}/roles")).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("User not found");
        await (await viewer.GetAsync("/api/v1/users/alice/roles")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Anonymous_callers_get_401()
    {
        var user = await Fixture.CreateUserAsync();

        await (await Client.GetAsync($"/api/v1/users/{user.Id}/roles")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }
}
