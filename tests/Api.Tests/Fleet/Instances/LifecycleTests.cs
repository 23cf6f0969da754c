using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Instances;

public sealed class LifecycleTests(FleetFixture fixture) : FleetTest(fixture)
{
    [Fact]
    public async Task Suspend_then_resume_moves_the_state_machine_and_writes_events_and_audit_rows()
    {
        var id = await SeedInstanceAsync("cycle");
        var client = await As(BaseRole.Operator);

        var suspended = await (await client.PostAsync($"/api/v1/instances/{id}/suspend", null)).ShouldBeJsonAsync();
        suspended.PropertyNames().ShouldBe(["message", "id", "name", "status"]);
        suspended.GetProperty("message").GetString().ShouldBe("Instance suspended");
        suspended.GetProperty("status").GetString().ShouldBe("SUSPENDED");
        var lifecycle = await (await client.GetAsync($"/api/v1/instances/{id}/lifecycle")).ShouldBeJsonAsync();
        lifecycle.PropertyNames().ShouldBe(["instanceId", "name", "status", "availableActions"]);
        lifecycle.GetProperty("availableActions").EnumerateArray().Select(action => action.GetString()).ShouldBe(["resume", "destroy", "backup"]);

        var resumed = await (await client.PostAsync($"/api/v1/instances/{id}/resume", null)).ShouldBeJsonAsync();
        resumed.GetProperty("message").GetString().ShouldBe("Instance resumed");
        resumed.GetProperty("status").GetString().ShouldBe("RUNNING");

        (await Fixture.QueryAsync<string>("SELECT event_type FROM fleet.instance_events WHERE instance_id = @Id ORDER BY occurred_at, id", new { Id = id }))
            .ShouldBe(["SUSPEND", "RESUME"]);
        (await Fixture.QueryAsync<string>("SELECT action FROM identity.audit_log WHERE resource_id = @Id ORDER BY occurred_at", new { Id = id.ToString() }))
            .ShouldBe(["instance.suspend", "instance.resume"]);
    }

    [Theory]
    [InlineData("suspend", "SUSPENDED")]
    [InlineData("suspend", "STOPPED")]
    [InlineData("resume", "RUNNING")]
    [InlineData("resume", "DEPLOYING")]
    public async Task Actions_the_status_does_not_allow_are_409_naming_the_status(string action, string status)
    {
        var id = await SeedInstanceAsync("stuck", status: status);
        var client = await As(BaseRole.Operator);

        var response = await client.PostAsync($"/api/v1/instances/{id}/{action}", null);

        (await response.ShouldBeErrorAsync(HttpStatusCode.Conflict)).GetProperty("message").GetString()!.ShouldEndWith($"current status is {status}");
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.instances WHERE id = @Id", new { Id = id })).ShouldBe(status);
    }

    [Theory]
    [InlineData("suspend")]
    [InlineData("resume")]
    [InlineData("backup")]
    public async Task Unknown_instances_are_404(string action)
    {
        var client = await As(BaseRole.Operator);

        var response = await client.PostAsync($"/api/v1/instances/{Guid.CreateVersion7()}/{action}", null);

        await response.ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Lifecycle_of_an_unknown_instance_is_404()
    {
        var client = await As(BaseRole.Viewer);

        await (await client.GetAsync($"/api/v1/instances/{Guid.CreateVersion7()}/lifecycle")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Deregister_stops_the_instance_with_an_optional_backup_and_a_second_time_is_409()
    {
        var id = await SeedInstanceAsync("leaving");
        var client = await As(BaseRole.Operator);

        using var request = new HttpRequestMessage(HttpMethod.Delete, $"/api/v1/instances/{id}") { Content = JsonContent.Create(new { backupVolume = true, backupLabel = "last-words" }) };
        var body = await (await client.SendAsync(request)).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["message", "id", "name", "status", "backupId"]);
        body.GetProperty("message").GetString().ShouldBe("Instance deregistered");
        body.GetProperty("status").GetString().ShouldBe("STOPPED");
        (await Fixture.ScalarAsync<string>("SELECT label FROM fleet.instance_backups WHERE id = @Id", new { Id = body.GetProperty("backupId").GetGuid() })).ShouldBe("last-words");
        await (await client.DeleteAsync($"/api/v1/instances/{id}")).ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Deregister_without_a_body_works_and_unknown_is_404()
    {
        var id = await SeedInstanceAsync("plain");
        var client = await As(BaseRole.Operator);

        (await (await client.DeleteAsync($"/api/v1/instances/{id}")).ShouldBeJsonAsync()).GetProperty("backupId").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        await (await client.DeleteAsync($"/api/v1/instances/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Backup_records_a_pending_backup_with_a_default_label_and_an_event()
    {
        var id = await SeedInstanceAsync("saver");
        var client = await As(BaseRole.Operator);

        var response = await client.PostJsonAsync($"/api/v1/instances/{id}/backup", new { compression = "zstd" });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Accepted);
        body.PropertyNames().ShouldBe(["message", "backupId", "instanceId", "label", "compression", "status", "createdAt"]);
        body.GetProperty("message").GetString().ShouldBe("Volume backup initiated");
        body.GetProperty("label").GetString()!.ShouldStartWith("backup-saver-");
        body.GetProperty("status").GetString().ShouldBe("pending");
        (await Fixture.ScalarAsync<string>("SELECT compression FROM fleet.instance_backups WHERE instance_id = @Id", new { Id = id })).ShouldBe("zstd");
        (await Fixture.ScalarAsync<string>("SELECT event_type FROM fleet.instance_events WHERE instance_id = @Id", new { Id = id })).ShouldBe("BACKUP");
    }

    [Theory]
    [InlineData("{\"compression\":\"rar\"}", "compression")]
    [InlineData("{\"label\":\"no spaces allowed\"}", "label")]
    public async Task Bad_backup_bodies_are_400(string json, string field)
    {
        var id = await SeedInstanceAsync("saver");
        var client = await As(BaseRole.Operator);

        var response = await client.PostAsync($"/api/v1/instances/{id}/backup", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Backup_of_a_stopped_instance_is_409()
    {
        var id = await SeedInstanceAsync("stopped", status: "STOPPED");
        var client = await As(BaseRole.Operator);

        await (await client.PostJsonAsync($"/api/v1/instances/{id}/backup", new { })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Bulk_action_reports_each_instance_and_never_fails_the_whole()
    {
        var running = await SeedInstanceAsync("a-running");
        var suspended = await SeedInstanceAsync("b-suspended", status: "SUSPENDED");
        var unknown = Guid.CreateVersion7();
        var client = await As(BaseRole.Operator);

        var body = await (await client.PostJsonAsync("/api/v1/instances/bulk-action", new { instanceIds = new[] { running, suspended, unknown }, action = "suspend" }))
            .ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["message", "action", "results", "summary"]);
        body.GetProperty("message").GetString().ShouldBe("Bulk suspend completed");
        var results = body.GetProperty("results").EnumerateArray().ToDictionary(result => result.GetProperty("id").GetGuid());
        results[running].GetProperty("success").GetBoolean().ShouldBeTrue();
        results[running].GetProperty("newStatus").GetString().ShouldBe("SUSPENDED");
        results[suspended].GetProperty("success").GetBoolean().ShouldBeFalse();
        results[suspended].GetProperty("error").GetString()!.ShouldContain("current status is SUSPENDED");
        results[unknown].GetProperty("error").GetString()!.ShouldContain("not found");
        body.GetProperty("summary").GetProperty("succeeded").GetInt32().ShouldBe(1);
        body.GetProperty("summary").GetProperty("failed").GetInt32().ShouldBe(2);
    }

    [Fact]
    public async Task Bulk_destroy_ends_in_destroyed_and_frees_the_name()
    {
        var id = await SeedInstanceAsync("doomed");
        var client = await As(BaseRole.Operator);

        var body = await (await client.PostJsonAsync("/api/v1/instances/bulk-action", new { instanceIds = new[] { id }, action = "destroy", options = new { backupVolume = true } }))
            .ShouldBeJsonAsync();

        body.GetProperty("results")[0].GetProperty("newStatus").GetString().ShouldBe("DESTROYED");
        body.GetProperty("results")[0].GetProperty("backupId").GetGuid().ShouldNotBe(Guid.Empty);
        (await RegisterAsync(await As(BaseRole.Viewer), "doomed")).ShouldNotBe(id);
    }

    [Theory]
    [InlineData("{\"action\":\"suspend\"}", "instanceIds")]
    [InlineData("{\"instanceIds\":[],\"action\":\"suspend\"}", "instanceIds")]
    [InlineData("{\"instanceIds\":[\"0195a0d0-0000-7000-8000-000000000001\"],\"action\":\"reboot\"}", "action")]
    public async Task Bad_bulk_bodies_are_400(string json, string field)
    {
        var client = await As(BaseRole.Operator);

        var response = await client.PostAsync("/api/v1/instances/bulk-action", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task More_than_fifty_instances_in_a_bulk_action_is_400()
    {
        var client = await As(BaseRole.Operator);

        var response = await client.PostJsonAsync("/api/v1/instances/bulk-action", new { instanceIds = Enumerable.Range(0, 51).Select(_ => Guid.CreateVersion7()), action = "resume" });

        await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }
}
