using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

/// <summary>Seed 001's /api/v1/users CRUD.</summary>
public sealed class UserTests(ApiFixture fixture) : ApiTest(fixture)
{
    [Fact]
    public async Task Admin_creates_a_user_with_a_role_alias_and_gets_201_with_location()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PostAsJsonAsync("/api/v1/users", new { username = "New.User", password = "Str0ng-Passw0rd!", role = "editor", email = "New.User@Example.test" });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(["id", "username", "email", "name", "role", "active", "authProvider", "requiresPasswordChange", "createdAt", "updatedAt"]);
        body.GetProperty("username").GetString().ShouldBe("new.user");
        body.GetProperty("email").GetString().ShouldBe("new.user@example.test");
        body.GetProperty("role").GetString().ShouldBe("operator");
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/users/{body.GetProperty("id").GetGuid()}");

        var login = await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = "new.user", password = "Str0ng-Passw0rd!" });
        login.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.flux_bindings WHERE user_id = @Id", new { Id = body.GetProperty("id").GetGuid() })).ShouldBe(2);
        (await Fixture.ScalarAsync<string>("SELECT action FROM identity.audit_log WHERE resource_id = @Id", new { Id = body.GetProperty("id").GetGuid().ToString() })).ShouldBe("user.create");
    }

    [Theory]
    [InlineData("{\"username\":\"ab\",\"password\":\"Str0ng-Passw0rd!\",\"role\":\"viewer\"}", "username")]
    [InlineData("{\"username\":\"bad name\",\"password\":\"Str0ng-Passw0rd!\",\"role\":\"viewer\"}", "username")]
    [InlineData("{\"username\":\"someone\",\"password\":\"weak\",\"role\":\"viewer\"}", "password")]
    [InlineData("{\"username\":\"someone\",\"password\":\"alllowercase1!\",\"role\":\"viewer\"}", "password")]
    [InlineData("{\"username\":\"someone\",\"password\":\"Str0ng-Passw0rd!\",\"role\":\"superuser\"}", "role")]
    [InlineData("{\"username\":\"someone\",\"password\":\"Str0ng-Passw0rd!\",\"role\":\"viewer\",\"email\":\"not-an-email\"}", "email")]
    public async Task Invalid_users_are_400_naming_the_field(string json, string field)
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PostAsync("/api/v1/users", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task A_taken_username_or_email_is_409()
    {
        var (admin, existing) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var sameName = await admin.PostAsJsonAsync("/api/v1/users", new { username = existing.Username.ToUpperInvariant(), password = "Str0ng-Passw0rd!", role = "viewer" });
        var sameEmail = await admin.PostAsJsonAsync("/api/v1/users", new { username = "other-name", password = "Str0ng-Passw0rd!", role = "viewer", email = existing.Email });

        await sameName.ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await sameEmail.ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task User_routes_need_credentials_and_the_admin_role()
    {
        var (operatorClient, _) = await Fixture.ClientAsAsync(BaseRole.Operator);
        var someone = await Fixture.CreateUserAsync();

        await (await Client.GetAsync("/api/v1/users")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        var forbidden = await operatorClient.GetAsync("/api/v1/users");
        (await forbidden.ShouldBeErrorAsync(HttpStatusCode.Forbidden)).GetProperty("message").GetString()
            .ShouldBe("Missing permission \"user.read\": this action requires the admin role or higher");
        await (await operatorClient.PostAsJsonAsync("/api/v1/users", new { username = "x-user", password = "Str0ng-Passw0rd!", role = "viewer" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.PutAsJsonAsync($"/api/v1/users/{someone.Id}", new { role = "admin" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.DeleteAsync($"/api/v1/users/{someone.Id}")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task List_pages_searches_filters_and_sorts()
    {
        var (admin, me) = await Fixture.ClientAsAsync(BaseRole.Admin);
        foreach (var name in new[] { "alpha", "bravo", "charlie" })
        {
            await Fixture.CreateUserAsync(BaseRole.Viewer, name);
        }

        var page = await (await admin.GetAsync("/api/v1/users?limit=2&page=2&sort=username&order=asc")).ShouldBeJsonAsync();
        var search = await (await admin.GetAsync("/api/v1/users?search=RAV")).ShouldBeJsonAsync();
        var viewers = await (await admin.GetAsync("/api/v1/users?role=viewer&sortBy=username&sortOrder=desc")).ShouldBeJsonAsync();

        page.PropertyNames().ShouldBe(["users", "total", "pagination"]);
        page.GetProperty("total").GetInt64().ShouldBe(4);
        page.GetProperty("users").EnumerateArray().Select(user => user.GetProperty("username").GetString()).ShouldBe(["bravo", "charlie"]);
        page.GetProperty("pagination").GetProperty("totalPages").GetInt32().ShouldBe(2);
        page.GetProperty("pagination").GetProperty("pageSize").GetInt32().ShouldBe(2);
        search.GetProperty("users").EnumerateArray().Single().GetProperty("username").GetString().ShouldBe("bravo");
        viewers.GetProperty("users").EnumerateArray().Select(user => user.GetProperty("username").GetString()).ShouldBe(["charlie", "bravo", "alpha"]);
        await (await admin.GetAsync("/api/v1/users?sort=password_hash")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await admin.GetAsync("/api/v1/users?role=root")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Update_changes_role_and_rebinds_default_flux_policies()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();
        await Fixture.ExecuteAsync("INSERT INTO identity.flux_bindings (id, user_id, policy_id) VALUES (platform.uuid_v7(), @Id, '00000000-0000-0000-0000-000000000001')", new { user.Id });

        var body = await (await admin.PutAsJsonAsync($"/api/v1/users/{user.Id}", new { role = "OPERATOR", name = "Renamed" })).ShouldBeJsonAsync();

        body.GetProperty("role").GetString().ShouldBe("operator");
        body.GetProperty("name").GetString().ShouldBe("Renamed");
        (await Fixture.QueryAsync<Guid>("SELECT policy_id FROM identity.flux_bindings WHERE user_id = @Id ORDER BY policy_id", new { user.Id }))
            .ShouldBe([Guid.Parse("00000000-0000-0000-0000-000000000002"), Guid.Parse("00000000-0000-0000-0000-000000000003")]);
    }

    [Fact]
    public async Task Deactivating_a_user_ends_their_sessions_and_keys()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var (userClient, user) = await Fixture.ClientAsAsync(BaseRole.Developer);
        (await userClient.GetAsync("/api/v1/version")).StatusCode.ShouldBe(HttpStatusCode.OK);
        await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = user.Password });

        (await admin.PutAsJsonAsync($"/api/v1/users/{user.Id}", new { active = false })).StatusCode.ShouldBe(HttpStatusCode.OK);

        await (await userClient.GetAsync("/api/v1/version")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.sessions WHERE user_id = @Id AND revoked_at IS NULL", new { user.Id })).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.api_keys WHERE user_id = @Id AND revoked_at IS NULL", new { user.Id })).ShouldBe(0);
    }

    [Fact]
    public async Task An_admin_password_reset_ends_sessions_and_asks_for_a_change()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();

        var body = await (await admin.PutAsJsonAsync($"/api/v1/users/{user.Id}", new { password = "Brand-New-Pass1" })).ShouldBeJsonAsync();

        body.GetProperty("requiresPasswordChange").GetBoolean().ShouldBeTrue();
        (await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = "Brand-New-Pass1" })).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = user.Password })).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Nobody_demotes_or_deactivates_themselves()
    {
        var (admin, me) = await Fixture.ClientAsAsync(BaseRole.Admin);
        await Fixture.CreateUserAsync(BaseRole.Admin);

        await (await admin.PutAsJsonAsync($"/api/v1/users/{me.Id}", new { role = "viewer" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await admin.PutAsJsonAsync($"/api/v1/users/{me.Id}", new { active = false })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await admin.DeleteAsync($"/api/v1/users/{me.Id}")).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        (await admin.PutAsJsonAsync($"/api/v1/users/{me.Id}", new { name = "Still fine" })).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task The_last_active_admin_cannot_be_demoted_deactivated_or_deleted()
    {
        // A non-admin holding user.edit through a custom role is the one caller who can reach the last admin.
        var onlyAdmin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var manager = await Fixture.CreateUserAsync(BaseRole.Operator);
        await Fixture.ExecuteAsync(
            """
            INSERT INTO identity.roles (id, name, permissions) VALUES ('00000000-0000-0000-0000-0000000000aa', 'user-managers', ARRAY['user.edit']);
            INSERT INTO identity.user_roles (id, user_id, role_id) VALUES (platform.uuid_v7(), @Id, '00000000-0000-0000-0000-0000000000aa');
            """,
            new { manager.Id });
        var client = await Fixture.ClientAsAsync(manager);

        (await (await client.PutAsJsonAsync($"/api/v1/users/{onlyAdmin.Id}", new { role = "viewer" })).ShouldBeErrorAsync(HttpStatusCode.Conflict))
            .GetProperty("message").GetString().ShouldBe("Cannot remove the last active admin");
        await (await client.PutAsJsonAsync($"/api/v1/users/{onlyAdmin.Id}", new { active = false })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await client.DeleteAsync($"/api/v1/users/{onlyAdmin.Id}")).ShouldBeErrorAsync(HttpStatusCode.Conflict);

        var second = await Fixture.CreateUserAsync(BaseRole.Admin);
        (await client.PutAsJsonAsync($"/api/v1/users/{onlyAdmin.Id}", new { role = "viewer" })).StatusCode.ShouldBe(HttpStatusCode.OK);
        await (await client.DeleteAsync($"/api/v1/users/{second.Id}")).ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Unknown_and_malformed_ids()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        await (await admin.PutAsJsonAsync($"/api/v1/users/{Guid.NewGuid()}", new { name = "x" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.DeleteAsync($"/api/v1/users/{Guid.NewGuid()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await (await admin.DeleteAsync("/api/v1/users/not-a-uuid")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("userId", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Delete_removes_the_user_and_everything_they_held()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var (userClient, user) = await Fixture.ClientAsAsync(BaseRole.Operator);

        (await admin.DeleteAsync($"/api/v1/users/{user.Id}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.api_keys WHERE user_id = @Id", new { user.Id })).ShouldBe(0);
        await (await userClient.GetAsync("/api/v1/version")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        (await Fixture.ScalarAsync<string>("SELECT resource_name FROM identity.audit_log WHERE action = 'user.delete'")).ShouldBe(user.Username);
    }
}
