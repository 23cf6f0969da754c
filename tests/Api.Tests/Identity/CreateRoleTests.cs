using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class CreateRoleTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    [Fact]
    public async Task An_admin_creates_a_role_and_gets_it_back_in_snake_case()
    {
        var admin = await ClientAsync(BaseRole.Admin);

        var response = await admin.PostAsJsonAsync("/api/v1/roles", new
        {
            name = "  auditors  ",
            description = "Read the audit log",
            permissions = new[] { "audit.read", "secret.list", "audit.read" },
        });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(["id", "name", "description", "permissions", "is_system", "created_at", "updated_at"]);
        var id = body.GetProperty("id").GetGuid();
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/roles/{id}");
        body.GetProperty("name").GetString().ShouldBe("auditors");
        body.GetProperty("description").GetString().ShouldBe("Read the audit log");
        body.GetProperty("permissions").EnumerateArray().Select(item => item.GetString()).ShouldBe(["audit.read", "secret.list"]);
        body.GetProperty("is_system").GetBoolean().ShouldBeFalse();
        body.GetProperty("created_at").GetString()!.ShouldEndWith("Z");
        (await Fixture.ScalarAsync<string>("SELECT action FROM identity.audit_log WHERE resource_type = 'role' AND resource_id = @Id", new { Id = id.ToString() }))
            .ShouldBe("role.create");
    }

    [Fact]
    public async Task Description_is_optional_and_a_role_may_start_empty()
    {
        var admin = await ClientAsync(BaseRole.Admin);

        var body = await (await admin.PostAsJsonAsync("/api/v1/roles", new { name = "placeholder", permissions = Array.Empty<string>() }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);

        body.GetProperty("description").GetString().ShouldBe(string.Empty);
        body.GetProperty("permissions").GetArrayLength().ShouldBe(0);
    }

    [Fact]
    public async Task An_unknown_permission_is_400_naming_it()
    {
        var admin = await ClientAsync(BaseRole.Admin);

        var response = await admin.PostAsJsonAsync("/api/v1/roles", new { name = "bad", permissions = new[] { "audit.read", "audit.write" } });

        var body = await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        body.GetProperty("message").GetString().ShouldBe("unknown permission \"audit.write\"");
        body.GetProperty("details").GetProperty("permissions")[0].GetString().ShouldBe("unknown permission \"audit.write\"");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.roles WHERE name = 'bad'")).ShouldBe(0);
    }

    [Theory]
    [InlineData("{\"permissions\":[]}", "name")]
    [InlineData("{\"name\":\"   \",\"permissions\":[]}", "name")]
    [InlineData("{\"name\":\"no-list\"}", "permissions")]
    [InlineData("{\"name\":\"wildcard\",\"permissions\":[\"*\"]}", "permissions")]
    [InlineData("{\"name\":\"null-entry\",\"permissions\":[null]}", "permissions")]
    public async Task Invalid_bodies_are_400_naming_the_field(string json, string field)
    {
        var admin = await ClientAsync(BaseRole.Admin);

        var response = await admin.PostAsync("/api/v1/roles", Json(json));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task A_name_longer_than_100_characters_is_400()
    {
        var admin = await ClientAsync(BaseRole.Admin);

        var response = await admin.PostAsJsonAsync("/api/v1/roles", new { name = new string('r', 101), permissions = Array.Empty<string>() });

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("name", out _).ShouldBeTrue();
    }

    [Theory]
    [InlineData("release-managers")]
    [InlineData("Release-Managers")]
    [InlineData("APPROVER")]
    public async Task A_taken_name_in_any_case_is_409(string name)
    {
        await CreateRoleAsync("release-managers", "secret.approve");
        var admin = await ClientAsync(BaseRole.Admin);

        var response = await admin.PostAsJsonAsync("/api/v1/roles", new { name, permissions = new[] { "secret.list" } });

        await response.ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_is_403()
    {
        var operatorClient = await ClientAsync(BaseRole.Operator);
        var body = new { name = "x", permissions = Array.Empty<string>() };

        await (await Client.PostAsJsonAsync("/api/v1/roles", body)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        var forbidden = await (await operatorClient.PostAsJsonAsync("/api/v1/roles", body)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        forbidden.GetProperty("message").GetString()!.ShouldContain("role.edit");
    }
}
