using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class ListPermissionsTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    [Fact]
    public async Task A_viewer_reads_the_catalog_in_order_and_it_is_cacheable_for_five_minutes()
    {
        var viewer = await ClientAsync(BaseRole.Viewer);

        var response = await viewer.GetAsync("/api/v1/permissions");

        var body = await response.ShouldBeJsonAsync();
        response.Headers.CacheControl!.Public.ShouldBeTrue();
        response.Headers.CacheControl.MaxAge.ShouldBe(TimeSpan.FromMinutes(5));
        var entries = body.EnumerateArray().ToList();
        entries.Select(entry => entry.GetProperty("key").GetString()).ShouldBe(PermissionCatalog.All.Select(permission => permission.Key));
        entries.ShouldAllBe(entry => entry.PropertyNames().SequenceEqual(new[] { "key", "group", "description" }));
        var roleEdit = entries.Single(entry => entry.GetProperty("key").GetString() == "role.edit");
        roleEdit.GetProperty("group").GetString().ShouldBe("RBAC");
        roleEdit.GetProperty("description").GetString().ShouldBe("Create, update, delete roles. Manage seeded role permission lists.");
    }

    [Fact]
    public async Task Anonymous_callers_get_401() =>
        await (await Client.GetAsync("/api/v1/permissions")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);

    [Fact]
    public async Task Every_permission_the_seeded_system_roles_grant_is_in_the_catalog()
    {
        var seeded = await Fixture.QueryAsync<string>("SELECT DISTINCT unnest(permissions) FROM identity.roles WHERE is_system");

        seeded.ShouldNotBeEmpty();
        seeded.Where(key => !PermissionCatalog.Exists(key)).ShouldBeEmpty();
    }
}
