using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Instances;

/// <summary>Processes, extensions and events of an instance.</summary>
public sealed class InstanceDetailsTests(FleetFixture fixture) : FleetTest(fixture)
{
    [Fact]
    public async Task Processes_come_from_the_latest_heartbeat_that_reported_them_sorted_by_cpu()
    {
        var client = await As(BaseRole.Viewer);
        var id = await RegisterAsync(client, "busy");
        await client.PostJsonAsync($"/api/v1/instances/{id}/heartbeat", new
        {
            memoryTotal = 1000,
            processes = new object[]
            {
                new { pid = 1, name = "init", cpuPercent = 0.1, memoryBytes = 10 },
                new { pid = 77, name = "postgres", cpuPercent = 40.0, memoryBytes = 250, user = "postgres" },
            },
        });
        await client.PostJsonAsync($"/api/v1/instances/{id}/heartbeat", new { cpuPercent = 5.0 });

        var body = await (await client.GetAsync($"/api/v1/instances/{id}/processes?limit=5")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["instance_id", "timestamp", "processes"]);
        var top = body.GetProperty("processes")[0];
        top.PropertyNames().ShouldBe(["pid", "name", "cpu_percent", "memory_bytes", "memory_percent", "status", "user", "command"]);
        top.GetProperty("name").GetString().ShouldBe("postgres");
        top.GetProperty("memory_percent").GetDouble().ShouldBe(25);
        body.GetProperty("processes").GetArrayLength().ShouldBe(2);
    }

    [Fact]
    public async Task Processes_are_empty_without_reports_and_404_for_unknown_instances()
    {
        var id = await SeedInstanceAsync("idle");
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync($"/api/v1/instances/{id}/processes")).ShouldBeJsonAsync();

        body.GetProperty("processes").GetArrayLength().ShouldBe(0);
        await (await client.GetAsync($"/api/v1/instances/{Guid.CreateVersion7()}/processes")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync($"/api/v1/instances/{id}/processes?limit=0")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Extensions_combine_the_registered_list_with_reported_states()
    {
        var client = await As(BaseRole.Viewer);
        var id = await RegisterAsync(client, "tools", extra: new { extensions = new[] { "git", "python" } });
        await client.PostJsonAsync($"/api/v1/instances/{id}/heartbeat", new
        {
            extensionStates = new object[] { new { name = "python", status = "degraded", version = "3.12" }, new { name = "node", status = "installing" } },
        });

        var body = await (await client.GetAsync($"/api/v1/instances/{id}/extensions")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["instanceId", "instanceStatus", "extensions"]);
        var extensions = body.GetProperty("extensions").EnumerateArray().ToDictionary(item => item.GetProperty("name").GetString()!, item => item.GetProperty("status").GetString());
        extensions["python"].ShouldBe("degraded");
        extensions["node"].ShouldBe("installing");
        body.GetProperty("extensions")[0].PropertyNames().ShouldBe(["name", "status", "version", "lastChecked"]);
    }

    [Fact]
    public async Task An_install_running_for_more_than_fifteen_minutes_is_stalled()
    {
        var id = await SeedInstanceAsync("slow");
        await Fixture.ExecuteAsync(
            "UPDATE fleet.instances SET extensions = '{rust}', extension_states = CAST(@States AS jsonb) WHERE id = @Id",
            new { Id = id, States = $"[{{\"name\":\"rust\",\"status\":\"installing\",\"updatedAt\":\"{DateTime.UtcNow.AddMinutes(-20):O}\"}}]" });
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync($"/api/v1/instances/{id}/extensions")).ShouldBeJsonAsync();

        body.GetProperty("extensions")[0].GetProperty("status").GetString().ShouldBe("stalled");
        await (await client.GetAsync($"/api/v1/instances/{Guid.CreateVersion7()}/extensions")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Events_are_newest_first_filterable_and_paged_by_cursor()
    {
        var id = await SeedInstanceAsync("eventful");
        var operatorClient = await As(BaseRole.Operator);
        await operatorClient.PostAsync($"/api/v1/instances/{id}/suspend", null);
        await operatorClient.PostAsync($"/api/v1/instances/{id}/resume", null);
        await operatorClient.PostAsync($"/api/v1/instances/{id}/suspend", null);
        var client = await As(BaseRole.Viewer);

        var first = await (await client.GetAsync($"/api/v1/instances/{id}/events?limit=2")).ShouldBeJsonAsync();

        first.PropertyNames().ShouldBe(["instanceId", "events", "data", "nextCursor"]);
        first.GetProperty("events").EnumerateArray().Select(item => item.GetProperty("type").GetString()).ShouldBe(["SUSPEND", "RESUME"]);
        first.GetProperty("events")[0].PropertyNames().ShouldBe(["id", "type", "timestamp", "actorId", "metadata"]);
        first.GetProperty("events")[0].GetProperty("metadata").GetProperty("from").GetString().ShouldBe("RUNNING");
        var cursor = first.GetProperty("nextCursor").GetString();
        var second = await (await client.GetAsync($"/api/v1/instances/{id}/events?limit=2&cursor={cursor}")).ShouldBeJsonAsync();
        second.GetProperty("events").EnumerateArray().Select(item => item.GetProperty("type").GetString()).ShouldBe(["SUSPEND"]);
        second.GetProperty("nextCursor").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        var resumes = await (await client.GetAsync($"/api/v1/instances/{id}/events?type=resume")).ShouldBeJsonAsync();
        resumes.GetProperty("events").GetArrayLength().ShouldBe(1);
    }

    [Theory]
    [InlineData("limit=101")]
    [InlineData("limit=0")]
    [InlineData("cursor=%21%21not-a-cursor")]
    public async Task Bad_event_queries_are_400(string query)
    {
        var id = await SeedInstanceAsync("eventful");
        var client = await As(BaseRole.Viewer);

        await (await client.GetAsync($"/api/v1/instances/{id}/events?{query}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Events_of_an_unknown_instance_are_404()
    {
        var client = await As(BaseRole.Viewer);

        await (await client.GetAsync($"/api/v1/instances/{Guid.CreateVersion7()}/events")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }
}
