using System.Net;
using Capstan.Features.Fleet.Maintenance;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Fleet.Instances;

public sealed class HeartbeatTests(FleetFixture fixture) : FleetTest(fixture)
{
    [Fact]
    public async Task A_heartbeat_stores_a_sample_and_an_optional_metric_snapshot()
    {
        var client = await As(BaseRole.Viewer);
        var id = await RegisterAsync(client, "beating");

        var body = await (await client.PostJsonAsync($"/api/v1/instances/{id}/heartbeat", new
        {
            cpuPercent = 33.3,
            memoryUsed = 1,
            memoryTotal = 2,
            uptimeSeconds = 99,
            agentVersion = "2.0.1",
            distro = "fedora",
            metrics = new { cpuPercent = 33.3, memUsed = 1, memTotal = 2, loadAvg1 = 0.5 },
        })).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["ok", "instanceId", "status", "receivedAt"]);
        body.GetProperty("ok").GetBoolean().ShouldBeTrue();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.heartbeats WHERE instance_id = @Id", new { Id = id })).ShouldBe(1);
        (await Fixture.ScalarAsync<double>("SELECT load_avg_1 FROM fleet.metrics WHERE instance_id = @Id", new { Id = id })).ShouldBe(0.5);
        var instance = await (await client.GetAsync($"/api/v1/instances/{id}")).ShouldBeJsonAsync();
        instance.GetProperty("agentVersion").GetString().ShouldBe("2.0.1");
        instance.GetProperty("distro").GetString().ShouldBe("fedora");
    }

    [Fact]
    public async Task Silence_marks_a_running_instance_unhealthy_and_the_next_heartbeat_recovers_it()
    {
        var client = await As(BaseRole.Viewer);
        var id = await RegisterAsync(client, "flaky");
        await Fixture.ExecuteAsync(
            "UPDATE fleet.instances SET last_heartbeat_at = now() - interval '10 minutes', updated_at = now() - interval '10 minutes' WHERE id = @Id", new { Id = id });

        (await Fixture.Services.GetRequiredService<AgentSilenceWatch>().TryRunAsync(CancellationToken.None)).ShouldBeTrue();

        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.instances WHERE id = @Id", new { Id = id })).ShouldBe("ERROR");
        (await Fixture.ScalarAsync<string>("SELECT event_type FROM fleet.instance_events WHERE instance_id = @Id ORDER BY occurred_at DESC LIMIT 1", new { Id = id }))
            .ShouldBe("HEARTBEAT_LOST");

        var recovered = await (await client.PostJsonAsync($"/api/v1/instances/{id}/heartbeat", new { cpuPercent = 1.0 })).ShouldBeJsonAsync();

        recovered.GetProperty("status").GetString().ShouldBe("RUNNING");
        (await Fixture.ScalarAsync<string>("SELECT event_type FROM fleet.instance_events WHERE instance_id = @Id ORDER BY occurred_at DESC LIMIT 1", new { Id = id }))
            .ShouldBe("HEARTBEAT_RECOVERED");
    }

    [Fact]
    public async Task Recently_heard_instances_stay_running()
    {
        var client = await As(BaseRole.Viewer);
        var id = await RegisterAsync(client, "steady");
        await client.PostJsonAsync($"/api/v1/instances/{id}/heartbeat", new { cpuPercent = 1.0 });

        await Fixture.Services.GetRequiredService<AgentSilenceWatch>().TryRunAsync(CancellationToken.None);

        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.instances WHERE id = @Id", new { Id = id })).ShouldBe("RUNNING");
    }

    [Theory]
    [InlineData("{\"cpuPercent\":101}", "cpuPercent")]
    [InlineData("{\"memoryUsed\":-1}", "body")]
    [InlineData("{\"distro\":\"arch\"}", "distro")]
    [InlineData("{\"processes\":[{\"name\":\"no-pid\"}]}", "processes")]
    [InlineData("{\"extensionStates\":[{\"name\":\"x\",\"status\":\"weird\"}]}", "extensionStates")]
    [InlineData("{\"metrics\":{\"cpuPercent\":150}}", "metrics.cpuPercent")]
    public async Task Bad_heartbeats_are_400(string json, string field)
    {
        var client = await As(BaseRole.Viewer);
        var id = await RegisterAsync(client, "noisy");

        var response = await client.PostAsync($"/api/v1/instances/{id}/heartbeat", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Unknown_instances_are_404_and_destroyed_ones_409()
    {
        var destroyed = await SeedInstanceAsync("gone", status: "DESTROYED");
        var client = await As(BaseRole.Viewer);

        await (await client.PostJsonAsync($"/api/v1/instances/{Guid.CreateVersion7()}/heartbeat", new { })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PostJsonAsync($"/api/v1/instances/{destroyed}/heartbeat", new { })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }
}
