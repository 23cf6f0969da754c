using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class ListUserRolesTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    [Fact]
    public async Task A_viewer_lists_every_assignment_oldest_first()
    {
        var alice = await Fixture.CreateUserAsync();
        var bob = await Fixture.CreateUserAsync();
        var auditors = await CreateRoleAsync("auditors", "audit.read");
        var first = await AssignAsync(alice.Id, ApproverRoleId, new { project_id = "p1" });
        var second = await AssignAsync(bob.Id, auditors);
        var third = await AssignAsync(alice.Id, auditors);
        var viewer = await ClientAsync(BaseRole.Viewer);

        var body = await (await viewer.GetAsync("/api/v1/user-roles")).ShouldBeJsonAsync();

        var assignments = body.EnumerateArray().ToList();
        assignments.Select(item => item.GetProperty("id").GetGuid()).ShouldBe([first, second, third]);
        assignments.ShouldAllBe(item => item.PropertyNames().SequenceEqual(new[] { "id", "user_id", "role_id", "scope", "granted_by", "granted_at" }));
        assignments[0].GetProperty("scope").GetProperty("project_id").GetString().ShouldBe("p1");
        assignments[1].GetProperty("granted_by").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
    }

    [Fact]
    public async Task Filters_by_user_and_by_role_combine()
    {
        var alice = await Fixture.CreateUserAsync();
        var bob = await Fixture.CreateUserAsync();
        var auditors = await CreateRoleAsync("auditors", "audit.read");
        var aliceApprover = await AssignAsync(alice.Id, ApproverRoleId);
        var aliceAuditor = await AssignAsync(alice.Id, auditors);
        var bobAuditor = await AssignAsync(bob.Id, auditors);
        var viewer = await ClientAsync(BaseRole.Viewer);

        async Task<List<Guid>> IdsAsync(string query) =>
            [.. (await (await viewer.GetAsync($"/api/v1/user-roles{query}")).ShouldBeJsonAsync()).EnumerateArray().Select(item => item.GetProperty("id").GetGuid())];

        (await IdsAsync($"?user_id={alice.Id}")).ShouldBe([aliceApprover, aliceAuditor]);
        (await IdsAsync($"?role_id={auditors}")).ShouldBe([aliceAuditor, bobAuditor]);
        (await IdsAsync($"?user_id={bob.Id}&role_id={auditors}")).ShouldBe([bobAuditor]);
        (await IdsAsync($"?user_id={bob.Id}&role_id={ApproverRoleId}")).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("?user_id=alice", "user_id")]
    [InlineData("?role_id=12", "role_id")]
    public async Task Malformed_filters_are_400(string query, string field)
    {
        var viewer = await ClientAsync(BaseRole.Viewer);

        (await (await viewer.GetAsync($"/api/v1/user-roles{query}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Anonymous_callers_get_401() =>
        await (await Client.GetAsync("/api/v1/user-roles")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
}
