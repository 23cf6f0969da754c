using System.Globalization;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Overview;

public sealed class FleetOverviewTests(FleetFixture fixture) : FleetTest(fixture)
{
    [Fact]
    public async Task Stats_count_statuses_and_providers_without_destroyed_instances()
    {
        await SeedInstanceAsync("a", "RUNNING", "fly");
        await SeedInstanceAsync("b", "RUNNING", "aws");
        await SeedInstanceAsync("c", "SUSPENDED", "fly");
        await SeedInstanceAsync("gone", "DESTROYED", "gcp");
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync("/api/v1/fleet/stats")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["total", "by_status", "by_provider", "active_sessions", "updated_at"]);
        body.GetProperty("total").GetInt64().ShouldBe(3);
        body.GetProperty("by_status").GetProperty("RUNNING").GetInt64().ShouldBe(2);
        body.GetProperty("by_status").GetProperty("ERROR").GetInt64().ShouldBe(0);
        body.GetProperty("by_status").TryGetProperty("DESTROYED", out _).ShouldBeFalse();
        body.GetProperty("by_provider").EnumerateArray().Select(item => (item.GetProperty("provider").GetString(), item.GetProperty("count").GetInt64()))
            .ShouldBe([("fly", 2L), ("aws", 1L)]);
        body.GetProperty("active_sessions").GetInt64().ShouldBe(0);
    }

    [Fact]
    public async Task Active_sessions_count_agents_holding_a_socket()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var key = await Fixture.CreateApiKeyAsync(user);
        var id = await SeedInstanceAsync("connected");
        await using var agent = await SimulatedAgent.ConnectAsync(Fixture.Factory, "connected", key);
        var client = await As(BaseRole.Viewer);

        (await (await client.GetAsync("/api/v1/fleet/stats")).ShouldBeJsonAsync()).GetProperty("active_sessions").GetInt64().ShouldBe(1);
        id.ShouldNotBe(Guid.Empty);
    }

    [Fact]
    public async Task Geo_pins_group_instances_by_coordinates_with_registry_fallback()
    {
        await SeedInstanceAsync("sea-1", "RUNNING", "fly", "sea");
        await SeedInstanceAsync("sea-2", "ERROR", "fly", "sea");
        await SeedInstanceAsync("dub", "RUNNING", "aws", "eu-west-1");
        await SeedInstanceAsync("somewhere", "RUNNING", "ssh", "basement");
        await SeedInstanceAsync("gone", "DESTROYED", "fly", "sea");
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync("/api/v1/fleet/geo")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["pins", "total", "unlocated"]);
        body.GetProperty("total").GetInt64().ShouldBe(4);
        body.GetProperty("unlocated").GetInt64().ShouldBe(1);
        var seattle = body.GetProperty("pins")[0];
        seattle.PropertyNames().ShouldBe(["region", "lat", "lon", "label", "count", "statuses", "provider"]);
        seattle.GetProperty("region").GetString().ShouldBe("sea");
        seattle.GetProperty("lat").GetDouble().ShouldBe(47.61);
        seattle.GetProperty("count").GetInt64().ShouldBe(2);
        seattle.GetProperty("statuses").GetProperty("ERROR").GetInt64().ShouldBe(1);
        body.GetProperty("pins")[1].GetProperty("label").GetString().ShouldBe("Europe (Ireland)");
    }

    [Fact]
    public async Task The_deployment_timeline_has_24_hours_and_leaves_out_destroyed_instances()
    {
        var live = await SeedInstanceAsync("live");
        var gone = await SeedInstanceAsync("gone", "DESTROYED");
        var now = DateTime.UtcNow;
        async Task DeploymentAsync(Guid instance, string status, DateTime at) => await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.deployments (id, name, instance_id, config_hash, yaml_content, provider, region, vm_size, memory_gb, storage_gb, status, started_at)
            VALUES (@Id, 'd', @Instance, 'h', 'name: d', 'fly', 'sea', 'medium', 4, 20, @Status, @At)
            """,
            new { Id = Guid.CreateVersion7(), Instance = instance, Status = status, At = at });
        await DeploymentAsync(live, "SUCCEEDED", now);
        await DeploymentAsync(live, "FAILED", now);
        await DeploymentAsync(live, "SUCCEEDED", now.AddHours(-3));
        await DeploymentAsync(live, "SUCCEEDED", now.AddHours(-30));
        await DeploymentAsync(gone, "SUCCEEDED", now);
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync("/api/v1/fleet/deployments")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["activity", "total_24h", "succeeded_24h", "failed_24h", "success_rate"]);
        var activity = body.GetProperty("activity").EnumerateArray().ToList();
        activity.Count.ShouldBe(24);
        activity[^1].PropertyNames().ShouldBe(["hour", "deployments", "failures"]);
        activity[^1].GetProperty("hour").GetString().ShouldBe(now.ToString("yyyy-MM-dd'T'HH':00:00.000Z'", CultureInfo.InvariantCulture));
        activity[^1].GetProperty("deployments").GetInt64().ShouldBe(2);
        activity[^1].GetProperty("failures").GetInt64().ShouldBe(1);
        activity[^4].GetProperty("deployments").GetInt64().ShouldBe(1);
        body.GetProperty("total_24h").GetInt64().ShouldBe(3);
        body.GetProperty("success_rate").GetDouble().ShouldBe(0.6667);
    }

    [Fact]
    public async Task An_empty_fleet_has_a_success_rate_of_one()
    {
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync("/api/v1/fleet/deployments")).ShouldBeJsonAsync();

        body.GetProperty("success_rate").GetDouble().ShouldBe(1);
        (await (await client.GetAsync("/api/v1/fleet/geo")).ShouldBeJsonAsync()).GetProperty("pins").GetArrayLength().ShouldBe(0);
    }
}
