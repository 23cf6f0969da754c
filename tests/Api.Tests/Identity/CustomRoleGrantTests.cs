using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

/// <summary>Custom roles really change what a caller may do, through the API, from the next request on.</summary>
public sealed class CustomRoleGrantTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    [Fact]
    public async Task A_viewer_given_audit_read_by_a_role_reads_the_audit_log_until_the_assignment_is_removed()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var (viewer, viewerUser) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        await (await viewer.GetAsync("/api/v1/audit-events")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);

        var role = await (await admin.PostAsJsonAsync("/api/v1/roles", new { name = "auditors", permissions = new[] { "audit.read" } }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        var assignment = await (await admin.PostAsJsonAsync("/api/v1/user-roles", new { user_id = viewerUser.Id, role_id = role.GetProperty("id").GetGuid() }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);

        (await viewer.GetAsync("/api/v1/audit-events")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await viewer.GetAsync("/api/v1/audit")).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await admin.DeleteAsync($"/api/v1/user-roles/{assignment.GetProperty("id").GetGuid()}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        await (await viewer.GetAsync("/api/v1/audit-events")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task The_grant_also_reaches_a_signed_in_session_and_goes_when_the_roles_permissions_are_replaced()
    {
        var admin = await ClientAsync(BaseRole.Admin);
        var viewerUser = await Fixture.CreateUserAsync();
        var roleId = await CreateRoleAsync("auditors", "audit.read");
        await AssignAsync(viewerUser.Id, roleId);
        var login = await (await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = viewerUser.Username, password = viewerUser.Password })).ShouldBeJsonAsync();
        using var session = Fixture.CreateClient();
        session.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", login.GetProperty("token").GetString());

        (await session.GetAsync("/api/v1/audit-events")).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await PutJsonAsync(admin, $"/api/v1/roles/{roleId}/permissions", new { permissions = new[] { "secret.list" } })).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        await (await session.GetAsync("/api/v1/audit-events")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Deleting_the_role_takes_the_permission_away()
    {
        var admin = await ClientAsync(BaseRole.Admin);
        var (viewer, viewerUser) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        var roleId = await CreateRoleAsync("auditors", "audit.read");
        await AssignAsync(viewerUser.Id, roleId);
        (await viewer.GetAsync("/api/v1/audit-events")).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await admin.DeleteAsync($"/api/v1/roles/{roleId}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        await (await viewer.GetAsync("/api/v1/audit-events")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_project_scoped_grant_does_not_pass_a_global_permission_check()
    {
        var (viewer, viewerUser) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        var roleId = await CreateRoleAsync("auditors", "audit.read", "role.edit");
        await AssignAsync(viewerUser.Id, roleId, new { project_id = "p-1" });

        (await (await viewer.GetAsync("/api/v1/audit-events")).ShouldBeErrorAsync(HttpStatusCode.Forbidden))
            .GetProperty("message").GetString()!.ShouldContain("audit.read");
        await (await viewer.PostAsJsonAsync("/api/v1/roles", new { name = "escalate", permissions = new[] { "audit.read" } })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_custom_role_with_user_role_edit_lets_a_non_admin_assign_roles()
    {
        var (operatorClient, operatorUser) = await Fixture.ClientAsAsync(BaseRole.Operator);
        var target = await Fixture.CreateUserAsync();
        var roleId = await CreateRoleAsync("assigners", "user_role.edit");
        var body = new { user_id = target.Id, role_id = ApproverRoleId };
        await (await operatorClient.PostAsJsonAsync("/api/v1/user-roles", body)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);

        await AssignAsync(operatorUser.Id, roleId);

        var created = await (await operatorClient.PostAsJsonAsync("/api/v1/user-roles", body)).ShouldBeJsonAsync(HttpStatusCode.Created);
        created.GetProperty("granted_by").GetGuid().ShouldBe(operatorUser.Id);
    }
}
