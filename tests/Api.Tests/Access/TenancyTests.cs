using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Access;

/// <summary>Projects and environments (seed 003 tenancy): kinds, risk levels, the prod kind rule, archive.</summary>
public sealed class TenancyTests(AccessFixture fixture) : AccessTest(fixture)
{
    [Fact]
    public async Task Projects_are_created_listed_read_and_archived()
    {
        var (viewer, _) = await AsAsync(BaseRole.Viewer);

        var created = await (await viewer.PostAsJsonAsync("/api/v1/projects", new { name = "Payments", owner_team_id = "team-7" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        created.PropertyNames().ShouldBe(["id", "name", "owner_team_id", "status", "created_at", "updated_at"]);
        created.GetProperty("status").GetString().ShouldBe("active");
        var id = created.GetProperty("id").GetGuid();

        await (await viewer.PostAsJsonAsync("/api/v1/projects", new { name = "payments" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await viewer.PostAsJsonAsync("/api/v1/projects", new { })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await viewer.PostAsJsonAsync("/api/v1/projects", new { name = "x", status = "deleted" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        (await viewer.PutAsJsonAsync($"/api/v1/projects/{id}/status", new { status = "archived" })).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await (await viewer.GetAsync($"/api/v1/projects/{id}")).ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("archived");
        (await (await viewer.GetAsync("/api/v1/projects?status=active")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(0);
        (await (await viewer.GetAsync("/api/v1/projects")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(1);
        await (await viewer.PutAsJsonAsync($"/api/v1/projects/{id}/status", new { status = "gone" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await viewer.PutAsJsonAsync($"/api/v1/projects/{Guid.NewGuid()}/status", new { status = "active" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await viewer.GetAsync($"/api/v1/projects/{Guid.NewGuid()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await viewer.GetAsync("/api/v1/projects/nope")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await viewer.GetAsync("/api/v1/projects?status=gone")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Environments_take_a_kind_from_their_type_and_prod_stays_prod()
    {
        var (viewer, _) = await AsAsync(BaseRole.Viewer);
        var projectId = await CreateProjectAsync("shop");

        var prod = await (await viewer.PostAsJsonAsync("/api/v1/environments", new { project_id = projectId, name = "prod", type = "prod" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        prod.PropertyNames().ShouldBe(["id", "project_id", "name", "type", "kind", "risk_level", "description", "created_at", "updated_at"]);
        prod.GetProperty("kind").GetString().ShouldBe("prod");
        prod.GetProperty("risk_level").GetInt64().ShouldBe(4);
        var dev = await (await viewer.PostAsJsonAsync("/api/v1/environments", new { project_id = projectId, name = "dev", risk_level = 0, description = "sandbox" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        dev.GetProperty("type").GetString().ShouldBe("other");
        dev.GetProperty("kind").GetString().ShouldBe("non_prod");
        dev.GetProperty("risk_level").GetInt64().ShouldBe(0);
        var dr = await (await viewer.PostAsJsonAsync("/api/v1/environments", new { project_id = projectId, name = "dr", type = "uat", kind = "prod" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        dr.GetProperty("kind").GetString().ShouldBe("prod");

        foreach (var body in new object[]
                 {
                     new { project_id = projectId, name = "x", type = "prod", kind = "non_prod" },
                     new { project_id = projectId, name = "x", type = "qa" },
                     new { project_id = projectId, name = "x", risk_level = 5 },
                     new { project_id = projectId, name = "x", kind = "live" },
                     new { project_id = projectId },
                     new { name = "x" },
                     new { project_id = Guid.NewGuid(), name = "x" },
                 })
        {
            await (await viewer.PostAsJsonAsync("/api/v1/environments", body)).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        }

        await (await viewer.PostAsJsonAsync("/api/v1/environments", new { project_id = projectId, name = "PROD" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        var listed = await (await viewer.GetAsync($"/api/v1/projects/{projectId}/environments")).ShouldBeJsonAsync();
        listed.EnumerateArray().Select(row => row.GetProperty("name").GetString()).ShouldBe(["dev", "dr", "prod"]);
        (await (await viewer.GetAsync("/api/v1/environments?kind=prod")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(2);
        (await (await viewer.GetAsync($"/api/v1/environments?project_id={projectId}")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(3);
        (await (await viewer.GetAsync($"/api/v1/environments?project_id={Guid.NewGuid()}")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(0);
        await (await viewer.GetAsync("/api/v1/environments?kind=live")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await viewer.GetAsync($"/api/v1/projects/{Guid.NewGuid()}/environments")).ShouldBeErrorAsync(HttpStatusCode.NotFound);

        await viewer.PutAsJsonAsync($"/api/v1/projects/{projectId}/status", new { status = "archived" });
        await (await viewer.PostAsJsonAsync("/api/v1/environments", new { project_id = projectId, name = "late" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Environments_with_open_requests_stay_and_others_go()
    {
        var (viewer, _) = await AsAsync(BaseRole.Viewer);
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var projectId = await CreateProjectAsync();
        var busy = await CreateEnvironmentAsync(projectId, "busy");
        var idle = await CreateEnvironmentAsync(projectId, "idle");
        await SubmitReadAsync(developer, project: projectId, environment: "busy");

        await (await viewer.DeleteAsync($"/api/v1/environments/{busy}")).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        (await viewer.DeleteAsync($"/api/v1/environments/{idle}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await (await viewer.DeleteAsync($"/api/v1/environments/{idle}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await viewer.DeleteAsync("/api/v1/environments/nope")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Tenancy_routes_need_a_signed_in_caller()
    {
        var id = Guid.NewGuid();
        await (await Client.PostAsJsonAsync("/api/v1/projects", new { name = "x" })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.GetAsync("/api/v1/projects")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.GetAsync($"/api/v1/projects/{id}")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.PutAsJsonAsync($"/api/v1/projects/{id}/status", new { status = "active" })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.GetAsync($"/api/v1/projects/{id}/environments")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.PostAsJsonAsync("/api/v1/environments", new { })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.GetAsync("/api/v1/environments")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.DeleteAsync($"/api/v1/environments/{id}")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }
}
