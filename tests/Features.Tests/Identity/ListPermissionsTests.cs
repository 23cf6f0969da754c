using Capstan.Features.Identity;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity;

public sealed class ListPermissionsTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Fact]
    public async Task The_catalog_comes_back_whole_in_its_own_order()
    {
        var viewer = await Fixture.CreateUserAsync();

        var catalog = await Fixture.SendAsAsync(viewer, new ListPermissions.Query());

        catalog.ShouldBe([.. PermissionCatalog.All.Select(permission => new ListPermissions.PermissionView(permission.Key, permission.Group, permission.Description))]);
        catalog.Select(permission => permission.Key).ShouldBeUnique();
        catalog.Take(5).Select(permission => permission.Key).ShouldBe(["role.edit", "role.read", "user_role.edit", "user_role.read", "permission.read"]);
    }
}
