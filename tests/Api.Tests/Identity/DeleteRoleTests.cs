using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class DeleteRoleTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    [Fact]
    public async Task Deleting_a_custom_role_removes_its_assignments()
    {
        var id = await CreateRoleAsync("auditors", "audit.read");
        var holder = await Fixture.CreateUserAsync();
        await AssignAsync(holder.Id, id);
        await AssignAsync(holder.Id, id, new { project_id = "p1" });
        var admin = await ClientAsync(BaseRole.Admin);

        (await admin.DeleteAsync($"/api/v1/roles/{id}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.roles WHERE id = @Id", new { Id = id })).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.user_roles WHERE role_id = @Id", new { Id = id })).ShouldBe(0);
        (await Fixture.ScalarAsync<string>("SELECT metadata->>'assignments_removed' FROM identity.audit_log WHERE action = 'role.delete'")).ShouldBe("2");
        await (await admin.DeleteAsync($"/api/v1/roles/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_system_role_is_409_and_stays()
    {
        var admin = await ClientAsync(BaseRole.Admin);

        var response = await admin.DeleteAsync($"/api/v1/roles/{ApproverRoleId}");

        (await response.ShouldBeErrorAsync(HttpStatusCode.Conflict)).GetProperty("message").GetString().ShouldBe("\"approver\" is a system role and cannot be deleted");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.roles WHERE id = @Id", new { Id = ApproverRoleId })).ShouldBe(1);
    }

    [Fact]
    public async Task An_unknown_role_is_404_and_a_malformed_id_is_400()
    {
        var admin = await ClientAsync(BaseRole.Admin);

        await (await admin.DeleteAsync($"/api/v1/roles/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.DeleteAsync("/api/v1/roles/abc")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_is_403()
    {
        var id = await CreateRoleAsync("auditors", "audit.read");
        var operatorClient = await ClientAsync(BaseRole.Operator);

        await (await Client.DeleteAsync($"/api/v1/roles/{id}")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await operatorClient.DeleteAsync($"/api/v1/roles/{id}")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.roles WHERE id = @Id", new { Id = id })).ShouldBe(1);
    }
}
