using Capstan.Features.Identity;
using Capstan.Infrastructure.Errors;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity;

public sealed class GetRoleTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Fact]
    public async Task A_role_is_found_by_id_and_an_unknown_id_is_not_found()
    {
        var viewer = await Fixture.CreateUserAsync();

        var approver = await Fixture.SendAsAsync(viewer, new GetRole.Query(ApproverRoleId));

        approver.Name.ShouldBe("approver");
        approver.Description.ShouldBe("Approves or rejects secret requests.");
        approver.IsSystem.ShouldBeTrue();
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetRole.Query(Guid.CreateVersion7())))).Message.ShouldBe("Role not found");
    }
}
