using Capstan.Features.Identity;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity;

public sealed class ListRolesTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Fact]
    public async Task Roles_come_sorted_by_name_with_the_seeded_ones_marked_system()
    {
        await CreateRoleAsync("aa-first", "audit.read");
        var viewer = await Fixture.CreateUserAsync();

        var roles = await Fixture.SendAsAsync(viewer, new ListRoles.Query());

        roles.Count.ShouldBe(8);
        roles[0].Name.ShouldBe("aa-first");
        roles[0].IsSystem.ShouldBeFalse();
        roles.Skip(1).ShouldAllBe(role => role.IsSystem);
        roles.Select(role => role.Name).ShouldBe(roles.Select(role => role.Name).Order(StringComparer.Ordinal));
        roles.Single(role => role.Name == "admin").Permissions.ShouldContain("role.edit");
    }
}
