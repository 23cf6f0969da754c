using Capstan.Features.Identity;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity;

public sealed class DeleteRoleTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Fact]
    public async Task The_role_and_only_its_assignments_go()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();
        var doomed = await CreateRoleAsync("doomed", "audit.read");
        await AssignAsync(user.Id, doomed);
        await AssignAsync(user.Id, doomed, new { team_id = "t" });
        var kept = await AssignAsync(user.Id, ApproverRoleId);

        await Fixture.SendAsAsync(admin, new DeleteRole.Command(doomed));

        (await Fixture.QueryAsync<Guid>("SELECT id FROM identity.user_roles")).ShouldBe([kept]);
        (await Fixture.ScalarAsync<string>("SELECT metadata->>'assignments_removed' FROM identity.audit_log WHERE action = 'role.delete' AND resource_name = 'doomed'"))
            .ShouldBe("2");
    }

    [Fact]
    public async Task System_roles_are_a_conflict_and_unknown_ids_not_found()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new DeleteRole.Command(ApproverRoleId)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new DeleteRole.Command(Guid.CreateVersion7())));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.roles WHERE is_system")).ShouldBe(7);
    }
}
