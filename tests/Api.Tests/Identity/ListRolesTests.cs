using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class ListRolesTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    [Fact]
    public async Task A_viewer_lists_system_and_custom_roles_by_name()
    {
        await CreateRoleAsync("auditors", "audit.read");
        await CreateRoleAsync("zz-last", "secret.list");
        var viewer = await ClientAsync(BaseRole.Viewer);

        var body = await (await viewer.GetAsync("/api/v1/roles")).ShouldBeJsonAsync();

        var roles = body.EnumerateArray().ToList();
        roles.Select(role => role.GetProperty("name").GetString()).ShouldBe(
            ["admin", "approver", "auditors", "developer", "policy_author", "provider_connection_binder", "security_approver", "value_provider", "zz-last"]);
        roles.ShouldAllBe(role => role.PropertyNames().SequenceEqual(new[] { "id", "name", "description", "permissions", "is_system", "created_at", "updated_at" }));
        var approver = roles.Single(role => role.GetProperty("name").GetString() == "approver");
        approver.GetProperty("id").GetGuid().ShouldBe(ApproverRoleId);
        approver.GetProperty("is_system").GetBoolean().ShouldBeTrue();
        approver.GetProperty("permissions").EnumerateArray().Select(item => item.GetString()).ShouldBe(["secret.list", "secret.approve", "audit.read"]);
        roles.Single(role => role.GetProperty("name").GetString() == "auditors").GetProperty("is_system").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task Anonymous_callers_get_401() =>
        await (await Client.GetAsync("/api/v1/roles")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
}
