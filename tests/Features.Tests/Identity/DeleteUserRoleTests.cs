using Capstan.Features.Identity;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity;

public sealed class DeleteUserRoleTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Fact]
    public async Task One_assignment_goes_and_the_audit_row_names_role_user_and_scope()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();
        var gone = await AssignAsync(user.Id, ApproverRoleId, new { team_id = "t" });
        var kept = await AssignAsync(user.Id, ApproverRoleId);

        await Fixture.SendAsAsync(admin, new DeleteUserRole.Command(gone));

        (await Fixture.QueryAsync<Guid>("SELECT id FROM identity.user_roles")).ShouldBe([kept]);
        var audit = await Fixture.QueryAsync<(string Name, string TeamId, Guid UserId)>(
            "SELECT resource_name, metadata->'scope'->>'team_id', (metadata->>'user_id')::uuid FROM identity.audit_log WHERE action = 'user_role.revoke'");
        audit.ShouldBe([($"approver → {user.Username}", "t", user.Id)]);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new DeleteUserRole.Command(gone)));
    }
}
