using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class GetRoleTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    [Fact]
    public async Task A_viewer_reads_one_role()
    {
        var id = await CreateRoleAsync("auditors", "audit.read", "secret.list");
        var viewer = await ClientAsync(BaseRole.Viewer);

        var body = await (await viewer.GetAsync($"/api/v1/roles/{id}")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["id", "name", "description", "permissions", "is_system", "created_at", "updated_at"]);
        body.GetProperty("id").GetGuid().ShouldBe(id);
        body.GetProperty("name").GetString().ShouldBe("auditors");
        body.GetProperty("permissions").EnumerateArray().Select(item => item.GetString()).ShouldBe(["audit.read", "secret.list"]);
    }

    [Fact]
    public async Task An_unknown_role_is_404_and_a_malformed_id_is_400()
    {
        var viewer = await ClientAsync(BaseRole.Viewer);

        (await (await viewer.GetAsync($"/api/v1/roles/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Role not found");
        await (await viewer.GetAsync("/api/v1/roles/not-a-uuid")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Anonymous_callers_get_401() =>
        await (await Client.GetAsync($"/api/v1/roles/{ApproverRoleId}")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
}
