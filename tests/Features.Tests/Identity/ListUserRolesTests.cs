using Capstan.Features.Identity;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Identity;

public sealed class ListUserRolesTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Fact]
    public async Task Filters_apply_alone_and_together()
    {
        var viewer = await Fixture.CreateUserAsync();
        var alice = await Fixture.CreateUserAsync();
        var ops = await CreateRoleAsync("ops", "agent.list");
        var first = await AssignAsync(alice.Id, ops, new { project_id = "p" });
        var second = await AssignAsync(alice.Id, ApproverRoleId);
        var third = await AssignAsync(viewer.Id, ops);

        (await Fixture.SendAsAsync(viewer, new ListUserRoles.Query(null, null))).Select(item => item.Id).ShouldBe([first, second, third]);
        (await Fixture.SendAsAsync(viewer, new ListUserRoles.Query(alice.Id.ToString(), null))).Select(item => item.Id).ShouldBe([first, second]);
        (await Fixture.SendAsAsync(viewer, new ListUserRoles.Query(null, ops.ToString()))).Select(item => item.Id).ShouldBe([first, third]);
        var both = await Fixture.SendAsAsync(viewer, new ListUserRoles.Query(alice.Id.ToString(), ops.ToString()));
        both.ShouldHaveSingleItem().Scope.GetProperty("project_id").GetString().ShouldBe("p");
    }

    [Fact]
    public async Task Malformed_ids_are_refused()
    {
        var viewer = await Fixture.CreateUserAsync();

        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListUserRoles.Query("me", "x"))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["user_id", "role_id"]);
    }
}
