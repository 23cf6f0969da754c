using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class DeleteUserRoleTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    [Fact]
    public async Task An_admin_removes_an_assignment_once_and_it_is_audited()
    {
        var user = await Fixture.CreateUserAsync();
        var id = await AssignAsync(user.Id, ApproverRoleId, new { project_id = "p1" });
        var admin = await ClientAsync(BaseRole.Admin);

        (await admin.DeleteAsync($"/api/v1/user-roles/{id}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.user_roles")).ShouldBe(0);
        var audit = await Fixture.QueryAsync<(string Action, string Scope)>(
            "SELECT action, metadata->>'scope' FROM identity.audit_log WHERE resource_type = 'user_role' AND resource_id = @Id", new { Id = id.ToString() });
        audit.ShouldHaveSingleItem().Action.ShouldBe("user_role.revoke");
        audit[0].Scope.ShouldContain("p1");
        await (await admin.DeleteAsync($"/api/v1/user-roles/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_malformed_id_is_400()
    {
        var admin = await ClientAsync(BaseRole.Admin);

        await (await admin.DeleteAsync("/api/v1/user-roles/x")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_is_403()
    {
        var user = await Fixture.CreateUserAsync();
        var id = await AssignAsync(user.Id, ApproverRoleId);
        var operatorClient = await ClientAsync(BaseRole.Operator);

        await (await Client.DeleteAsync($"/api/v1/user-roles/{id}")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await operatorClient.DeleteAsync($"/api/v1/user-roles/{id}")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.user_roles")).ShouldBe(1);
    }
}
