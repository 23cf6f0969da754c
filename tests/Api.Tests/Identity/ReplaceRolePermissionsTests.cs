using System.Net;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class ReplaceRolePermissionsTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    [Fact]
    public async Task An_admin_replaces_the_whole_list_and_the_change_is_audited()
    {
        var id = await CreateRoleAsync("auditors", "audit.read", "secret.list");
        var admin = await ClientAsync(BaseRole.Admin);

        var response = await PutJsonAsync(admin, $"/api/v1/roles/{id}/permissions", new { permissions = new[] { "secret.list", "agent.list" } });

        response.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        var role = await (await admin.GetAsync($"/api/v1/roles/{id}")).ShouldBeJsonAsync();
        role.GetProperty("permissions").EnumerateArray().Select(item => item.GetString()).ShouldBe(["secret.list", "agent.list"]);
        DateTime.Parse(role.GetProperty("updated_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture)
            .ShouldBeGreaterThanOrEqualTo(DateTime.Parse(role.GetProperty("created_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
        var metadata = JsonDocument.Parse((await Fixture.ScalarAsync<string>(
            "SELECT metadata::text FROM identity.audit_log WHERE action = 'role.permissions.update' AND resource_id = @Id", new { Id = id.ToString() }))!).RootElement;
        metadata.GetProperty("added").EnumerateArray().Select(item => item.GetString()).ShouldBe(["agent.list"]);
        metadata.GetProperty("removed").EnumerateArray().Select(item => item.GetString()).ShouldBe(["audit.read"]);
    }

    [Fact]
    public async Task System_roles_may_be_edited_and_an_empty_list_clears_a_role()
    {
        var admin = await ClientAsync(BaseRole.Admin);

        (await PutJsonAsync(admin, $"/api/v1/roles/{ApproverRoleId}/permissions", new { permissions = new[] { "secret.approve" } })).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await Fixture.ScalarAsync<string[]>("SELECT permissions FROM identity.roles WHERE id = @Id", new { Id = ApproverRoleId })).ShouldBe(["secret.approve"]);

        (await PutJsonAsync(admin, $"/api/v1/roles/{ApproverRoleId}/permissions", new { permissions = Array.Empty<string>() })).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await Fixture.ScalarAsync<string[]>("SELECT permissions FROM identity.roles WHERE id = @Id", new { Id = ApproverRoleId })).ShouldBeEmpty();
    }

    [Fact]
    public async Task Unknown_permissions_are_400_naming_them_and_nothing_changes()
    {
        var id = await CreateRoleAsync("auditors", "audit.read");
        var admin = await ClientAsync(BaseRole.Admin);

        var response = await PutJsonAsync(admin, $"/api/v1/roles/{id}/permissions", new { permissions = new[] { "audit.read", "audit.write", "role.delete" } });

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString()
            .ShouldBe("unknown permissions: \"audit.write\", \"role.delete\"");
        (await Fixture.ScalarAsync<string[]>("SELECT permissions FROM identity.roles WHERE id = @Id", new { Id = id })).ShouldBe(["audit.read"]);
    }

    [Fact]
    public async Task A_missing_list_is_400_rather_than_clearing_the_role()
    {
        var id = await CreateRoleAsync("auditors", "audit.read");
        var admin = await ClientAsync(BaseRole.Admin);

        var response = await admin.PutAsync($"/api/v1/roles/{id}/permissions", Json("{}"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("permissions", out _).ShouldBeTrue();
        (await Fixture.ScalarAsync<string[]>("SELECT permissions FROM identity.roles WHERE id = @Id", new { Id = id })).ShouldBe(["audit.read"]);
    }

    [Fact]
    public async Task An_unknown_role_is_404_and_a_malformed_id_is_400()
    {
        var admin = await ClientAsync(BaseRole.Admin);
        var body = new { permissions = new[] { "audit.read" } };

        await (await PutJsonAsync(admin, $"/api/v1/roles/{Guid.CreateVersion7()}/permissions", body)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await PutJsonAsync(admin, "/api/v1/roles/12345/permissions", body)).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_is_403()
    {
        var operatorClient = await ClientAsync(BaseRole.Operator);
        var body = new { permissions = new[] { "audit.read" } };

        await (await PutJsonAsync(Client, $"/api/v1/roles/{ApproverRoleId}/permissions", body)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await PutJsonAsync(operatorClient, $"/api/v1/roles/{ApproverRoleId}/permissions", body)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }
}
