using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class CreateUserRoleTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    [Fact]
    public async Task An_admin_assigns_a_role_within_a_scope_and_is_recorded_as_the_granter()
    {
        var (admin, adminUser) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();

        var response = await admin.PostAsJsonAsync("/api/v1/user-roles", new
        {
            user_id = user.Id,
            role_id = ApproverRoleId,
            scope = new { team_id = "platform", project_id = " p-1 " },
        });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(["id", "user_id", "role_id", "scope", "granted_by", "granted_at"]);
        var id = body.GetProperty("id").GetGuid();
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/user-roles/{id}");
        body.GetProperty("user_id").GetGuid().ShouldBe(user.Id);
        body.GetProperty("role_id").GetGuid().ShouldBe(ApproverRoleId);
        body.GetProperty("scope").PropertyNames().ShouldBe(["team_id", "project_id"], ignoreOrder: true);
        body.GetProperty("scope").GetProperty("project_id").GetString().ShouldBe("p-1");
        body.GetProperty("granted_by").GetGuid().ShouldBe(adminUser.Id);
        body.GetProperty("granted_at").GetString()!.ShouldEndWith("Z");
        var audit = await Fixture.QueryAsync<(string Action, string ResourceId)>("SELECT action, resource_id FROM identity.audit_log WHERE resource_type = 'user_role'");
        audit.ShouldBe([("user_role.grant", id.ToString())]);
    }

    [Fact]
    public async Task Without_a_scope_the_grant_is_global_and_granted_by_may_name_the_caller()
    {
        var (admin, adminUser) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();

        var body = await (await admin.PostAsJsonAsync("/api/v1/user-roles", new { user_id = user.Id, role_id = ApproverRoleId, granted_by = $"user:{adminUser.Id}" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);

        body.GetProperty("scope").PropertyNames().ShouldBeEmpty();
        body.GetProperty("granted_by").GetGuid().ShouldBe(adminUser.Id);
    }

    [Fact]
    public async Task Granted_by_naming_someone_else_is_400_and_nothing_is_assigned()
    {
        var admin = await ClientAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();

        var response = await admin.PostAsJsonAsync("/api/v1/user-roles", new { user_id = user.Id, role_id = ApproverRoleId, granted_by = user.Id });

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("granted_by", out _).ShouldBeTrue();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.user_roles")).ShouldBe(0);
    }

    [Fact]
    public async Task The_same_user_role_and_scope_twice_is_409_in_any_key_order_but_another_scope_is_fine()
    {
        var admin = await ClientAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();
        (await admin.PostAsJsonAsync("/api/v1/user-roles", new { user_id = user.Id, role_id = ApproverRoleId, scope = new { project_id = "a", team_id = "t" } }))
            .StatusCode.ShouldBe(HttpStatusCode.Created);

        var again = await admin.PostAsync("/api/v1/user-roles", Json($$$"""{"user_id":"{{{user.Id}}}","role_id":"{{{ApproverRoleId}}}","scope":{"team_id":"t","project_id":"a"}}"""));
        var otherScope = await admin.PostAsJsonAsync("/api/v1/user-roles", new { user_id = user.Id, role_id = ApproverRoleId, scope = new { project_id = "b" } });
        var global = await admin.PostAsJsonAsync("/api/v1/user-roles", new { user_id = user.Id, role_id = ApproverRoleId });
        var globalAgain = await admin.PostAsJsonAsync("/api/v1/user-roles", new { user_id = user.Id, role_id = ApproverRoleId, scope = new { } });

        await again.ShouldBeErrorAsync(HttpStatusCode.Conflict);
        otherScope.StatusCode.ShouldBe(HttpStatusCode.Created);
        global.StatusCode.ShouldBe(HttpStatusCode.Created);
        await globalAgain.ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task An_unknown_user_or_role_is_404()
    {
        var admin = await ClientAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();

        (await (await admin.PostAsJsonAsync("/api/v1/user-roles", new { user_id = Guid.CreateVersion7(), role_id = ApproverRoleId }))
            .ShouldBeErrorAsync(HttpStatusCode.NotFound)).GetProperty("message").GetString().ShouldBe("User not found");
        (await (await admin.PostAsJsonAsync("/api/v1/user-roles", new { user_id = user.Id, role_id = Guid.CreateVersion7() }))
            .ShouldBeErrorAsync(HttpStatusCode.NotFound)).GetProperty("message").GetString().ShouldBe("Role not found");
    }

    [Theory]
    [InlineData("""{"role_id":"00000000-0000-0000-0000-00000000a002"}""", "user_id")]
    [InlineData("""{"user_id":"nope","role_id":"00000000-0000-0000-0000-00000000a002"}""", "user_id")]
    [InlineData("""{"user_id":"USER","role_id":"abc"}""", "role_id")]
    [InlineData("""{"user_id":"USER","role_id":"00000000-0000-0000-0000-00000000a002","scope":{"project_id":42}}""", "scope")]
    [InlineData("""{"user_id":"USER","role_id":"00000000-0000-0000-0000-00000000a002","scope":{"project_id":""}}""", "scope")]
    [InlineData("""{"user_id":"USER","role_id":"00000000-0000-0000-0000-00000000a002","scope":{"project_id":null}}""", "scope")]
    [InlineData("""{"user_id":"USER","role_id":"00000000-0000-0000-0000-00000000a002","scope":["project_id"]}""", "scope")]
    [InlineData("""{"user_id":"USER","role_id":"00000000-0000-0000-0000-00000000a002","scope":"global"}""", "scope")]
    [InlineData("""{"user_id":"USER","role_id":"00000000-0000-0000-0000-00000000a002","scope":{"Project Id":"x"}}""", "scope")]
    public async Task Invalid_bodies_are_400_naming_the_field(string json, string field)
    {
        var admin = await ClientAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();

        var response = await admin.PostAsync("/api/v1/user-roles", Json(json.Replace("USER", user.Id.ToString(), StringComparison.Ordinal)));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.user_roles")).ShouldBe(0);
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_is_403()
    {
        var operatorClient = await ClientAsync(BaseRole.Operator);
        var user = await Fixture.CreateUserAsync();
        var body = new { user_id = user.Id, role_id = ApproverRoleId };

        await (await Client.PostAsJsonAsync("/api/v1/user-roles", body)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        (await (await operatorClient.PostAsJsonAsync("/api/v1/user-roles", body)).ShouldBeErrorAsync(HttpStatusCode.Forbidden))
            .GetProperty("message").GetString()!.ShouldContain("user_role.edit");
    }
}
