using Capstan.Features.Identity;
using Capstan.Infrastructure.Errors;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity;

public sealed class ListRolesOfUserTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Fact]
    public async Task Only_that_users_assignments_come_back_and_an_unknown_user_is_not_found()
    {
        var viewer = await Fixture.CreateUserAsync();
        var alice = await Fixture.CreateUserAsync();
        var mine = await AssignAsync(alice.Id, ApproverRoleId);
        await AssignAsync(viewer.Id, ApproverRoleId);

        (await Fixture.SendAsAsync(viewer, new ListRolesOfUser.Query(alice.Id))).Select(item => item.Id).ShouldBe([mine]);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new ListRolesOfUser.Query(Guid.CreateVersion7())));
    }
}
