using System.Globalization;
using Capstan.Features.Fleet.Overview;
using Capstan.Features.Tests.Fleet.Security;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Overview;

/// <summary>The fleet dashboard: status and provider counts with live agents, map pins grouped by coordinates, and the
/// last 24 hours of deployments hour by hour.</summary>
public sealed class FleetOverviewHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private Task DeploymentAsync(Guid? instance, string status, DateTime startedAt) =>
        Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.deployments (id, name, instance_id, config_hash, yaml_content, provider, vm_size, memory_gb, storage_gb, status, started_at)
            VALUES (@Id, 'd', @Instance, 'h', 'y', 'fly', 'small', 1, 10, @Status, @StartedAt)
            """,
            new { Id = Guid.CreateVersion7(), Instance = instance, Status = status, StartedAt = startedAt });

    private static string HourOf(DateTime at) => new DateTime(at.Year, at.Month, at.Day, at.Hour, 0, 0, DateTimeKind.Utc).ToString("yyyy-MM-dd'T'HH':00:00.000Z'", CultureInfo.InvariantCulture);

    [Fact]
    public async Task Stats_count_visible_live_instances_by_status_and_provider_and_the_connected_agents()
    {
        var first = await InstanceAsync("first");
        await InstanceAsync("second", "SUSPENDED");
        var docker = await InstanceAsync("docker-1", "ERROR");
        await InstanceAsync("gone", "DESTROYED");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var stale = await InstanceAsync("stale");
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET provider = 'docker' WHERE id = @Id", new { Id = docker });
        await Fixture.MarkAgentConnectedAsync(first);
        await Fixture.MarkAgentConnectedAsync(hidden);
        await Fixture.ExecuteAsync(
            "UPDATE fleet.instances SET agent_connection_id = gen_random_uuid(), agent_connected_at = now() - interval '10 minutes' WHERE id = @Id", new { Id = stale });
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var stats = await Fixture.SendAsAsync(viewer, new GetFleetStats.Query());
        var all = await Fixture.SendAsAsync(admin, new GetFleetStats.Query());

        stats.Total.ShouldBe(4);
        stats.ByStatus.ShouldBe(new Dictionary<string, long>
        {
            ["RUNNING"] = 2,
            ["STOPPED"] = 0,
            ["DEPLOYING"] = 0,
            ["DESTROYING"] = 0,
            ["SUSPENDED"] = 1,
            ["ERROR"] = 1,
            ["UNKNOWN"] = 0,
        });
        stats.ByProvider.ShouldBe([new GetFleetStats.ProviderCount("fly", 3), new GetFleetStats.ProviderCount("docker", 1)]);
        stats.ActiveSessions.ShouldBe(1);
        stats.UpdatedAt.ShouldBe(DateTime.UtcNow, TimeSpan.FromMinutes(1));
        (all.Total, all.ActiveSessions, all.ByStatus["RUNNING"]).ShouldBe((5L, 2L, 3L));
    }

    [Fact]
    public async Task Geo_groups_instances_by_rounded_coordinates_from_their_own_or_their_regions_and_counts_the_unlocated()
    {
        var own = await InstanceAsync("own");
        var near = await InstanceAsync("near", "SUSPENDED");
        var amsterdam = await InstanceAsync("amsterdam");
        await InstanceAsync("nowhere");
        var gone = await InstanceAsync("gone", "DESTROYED");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        await Fixture.ExecuteAsync(
            """
            UPDATE fleet.instances SET geo_lat = 10.1234, geo_lon = 20.4567, geo_label = 'Home', region = 'x1' WHERE id = @Own;
            UPDATE fleet.instances SET geo_lat = 10.1211, geo_lon = 20.4649, region = 'x1' WHERE id = @Near;
            UPDATE fleet.instances SET region = 'ams' WHERE id IN (@Amsterdam, @Gone, @Hidden);
            """,
            new { Own = own, Near = near, Amsterdam = amsterdam, Gone = gone, Hidden = hidden });
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var geo = await Fixture.SendAsAsync(viewer, new GetFleetGeo.Query());

        (geo.Total, geo.Unlocated).ShouldBe((4L, 1L));
        geo.Pins.Count.ShouldBe(2);
        var pair = geo.Pins[0];
        (pair.Region, pair.Lat, pair.Lon, pair.Label, pair.Count, pair.Provider).ShouldBe(("x1", 10.12, 20.46, "Home", 2L, "fly"));
        pair.Statuses.ShouldBe(new Dictionary<string, long> { ["RUNNING"] = 1, ["SUSPENDED"] = 1 });
        var registry = geo.Pins[1];
        (registry.Region, registry.Lat, registry.Lon, registry.Label, registry.Count).ShouldBe(("ams", 52.37, 4.9, "Amsterdam, Netherlands", 1L));
    }

    [Fact]
    public async Task Deployments_are_counted_per_hour_over_the_last_day_without_destroyed_instances()
    {
        var box = await InstanceAsync("box");
        var gone = await InstanceAsync("gone", "DESTROYED");
        var now = DateTime.UtcNow;
        await DeploymentAsync(box, "SUCCEEDED", now.AddMinutes(-1));
        await DeploymentAsync(box, "FAILED", now.AddHours(-3));
        await DeploymentAsync(null, "SUCCEEDED", now.AddHours(-3));
        await DeploymentAsync(box, "CANCELLED", now.AddHours(-3));
        await DeploymentAsync(gone, "FAILED", now.AddHours(-2));
        await DeploymentAsync(box, "SUCCEEDED", now.AddHours(-25));
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var activity = await Fixture.SendAsAsync(viewer, new GetFleetDeployments.Query());

        activity.Activity.Count.ShouldBe(24);
        activity.Activity.Select(hour => hour.Start).ShouldBe(activity.Activity.Select(hour => hour.Start).Order(StringComparer.Ordinal));
        activity.Activity.Single(hour => hour.Start == HourOf(now.AddMinutes(-1))).ShouldBe(new GetFleetDeployments.Hour(HourOf(now.AddMinutes(-1)), 1, 0));
        activity.Activity.Single(hour => hour.Start == HourOf(now.AddHours(-3))).ShouldBe(new GetFleetDeployments.Hour(HourOf(now.AddHours(-3)), 3, 1));
        activity.Activity.Single(hour => hour.Start == HourOf(now.AddHours(-2))).Deployments.ShouldBe(0);
        activity.Activity.ShouldNotContain(hour => hour.Start == HourOf(now.AddHours(-25)));
        (activity.Total24h, activity.Succeeded24h, activity.Failed24h, activity.SuccessRate).ShouldBe((4L, 2L, 1L, 0.5));
    }

    [Fact]
    public async Task With_no_deployments_every_hour_is_zero_and_the_success_rate_is_one()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var activity = await Fixture.SendAsAsync(viewer, new GetFleetDeployments.Query());

        activity.Activity.Count.ShouldBe(24);
        activity.Activity.ShouldAllBe(hour => hour.Deployments == 0 && hour.Failures == 0);
        activity.Activity[^1].Start.ShouldBe(HourOf(DateTime.UtcNow));
        (activity.Total24h, activity.SuccessRate).ShouldBe((0L, 1.0));
    }
}
