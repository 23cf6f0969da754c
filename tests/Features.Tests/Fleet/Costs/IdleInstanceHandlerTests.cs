using Capstan.Features.Fleet.Costs;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Costs;

/// <summary>Idle instances through the pipeline: billable instances silent for the threshold, most idle first, with their
/// monthly cost (latest daily entry × 30) and 30-day usage, without other teams' instances.</summary>
public sealed class IdleInstanceHandlerTests(FleetHandlerFixture fixture) : CostSliceHandlerTest(fixture)
{
    private sealed record Idle(Guid Oldest, Guid Quiet, Guid Recent);

    /// <summary>oldest: RUNNING, silent 96 h, latest entry 1.316666 a day (an older one 5); quiet: STOPPED, silent 72 h, no
    /// entries; recent: silent 10 h; a DESTROYED and another team's instance silent 200 h; one that sent a heartbeat now.</summary>
    private async Task<Idle> IdleAsync(DateTime now)
    {
        var oldest = await CostInstanceAsync("oldest", "fly", region: "sea", lastHeartbeat: now.AddHours(-96));
        var quiet = await CostInstanceAsync("quiet", "aws", status: "STOPPED", lastHeartbeat: now.AddHours(-72));
        var recent = await CostInstanceAsync("recent", "fly", lastHeartbeat: now.AddHours(-10));
        await CostInstanceAsync("gone", "fly", status: "DESTROYED", lastHeartbeat: now.AddHours(-200));
        await CostInstanceAsync("hidden", "fly", OtherTeam, lastHeartbeat: now.AddHours(-200));
        await CostInstanceAsync("busy", "fly", lastHeartbeat: now);
        await EntryAsync(oldest, "fly", now.Date.AddDays(-1), compute: 1.033333m, storage: 0.25m, network: 0.033333m);
        await EntryAsync(oldest, "fly", now.Date.AddDays(-2), compute: 5m);
        await MetricAsync(oldest, now.AddMinutes(-30), cpu: 10, memUsed: 2, memTotal: 10);
        await MetricAsync(oldest, now.AddMinutes(-20), cpu: 30, memUsed: 4, memTotal: 10);
        return new Idle(oldest, quiet, recent);
    }

    [Fact]
    public async Task Instances_silent_for_the_threshold_are_idle_most_idle_first()
    {
        var now = DateTime.UtcNow;
        var idle = await IdleAsync(now);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var list = await Fixture.SendAsAsync(viewer, new ListIdleInstances.Query(null));

        list.ThresholdHours.ShouldBe(48);
        list.Total.ShouldBe(2);
        list.Instances.Select(instance => (instance.InstanceId, instance.InstanceName, instance.Provider, instance.Region, instance.Status, instance.IdleSinceHours, instance.EstimatedMonthlyCost))
            .ShouldBe(
            [
                // The latest day's 1.316666 × 30 = 39.49998.
                (idle.Oldest, "oldest", "fly", "sea", "RUNNING", 96.0, 39.50m),
                (idle.Quiet, "quiet", "aws", (string?)null, "STOPPED", 72.0, 0m),
            ]);
        (list.Instances[0].LastActivityAt - now.AddHours(-96)).Duration().ShouldBeLessThan(TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task A_lower_threshold_finds_more_and_an_out_of_range_one_is_refused()
    {
        var idle = await IdleAsync(DateTime.UtcNow);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        (await Fixture.SendAsAsync(viewer, new ListIdleInstances.Query(8))).Instances.Select(instance => instance.InstanceId).ShouldBe([idle.Oldest, idle.Quiet, idle.Recent]);
        (await Fixture.SendAsAsync(viewer, new ListIdleInstances.Query(80))).Instances.Select(instance => instance.InstanceId).ShouldBe([idle.Oldest]);
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new ListIdleInstances.Query(0.5)));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new ListIdleInstances.Query(8761)));
    }

    [Fact]
    public async Task Admins_see_other_teams_idle_instances()
    {
        await IdleAsync(DateTime.UtcNow);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        (await Fixture.SendAsAsync(admin, new ListIdleInstances.Query(null))).Instances.Select(instance => instance.InstanceName).ShouldBe(["hidden", "oldest", "quiet"]);
    }

    [Fact]
    public async Task The_report_gives_idle_days_usage_and_the_money_wasted()
    {
        var now = DateTime.UtcNow;
        var idle = await IdleAsync(now);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var report = await Fixture.SendAsAsync(viewer, new ListIdleInstancesReport.Query());

        report.Instances.ShouldBe(
        [
            // CPU (10 + 30) / 2; memory (20 % + 40 %) / 2.
            new(idle.Oldest, "oldest", "fly", "sea", "RUNNING", 4.0, 39.50m, 20, 30),
            new(idle.Quiet, "quiet", "aws", null, "STOPPED", 3.0, 0m, 0, 0),
        ]);
        report.TotalWastedUsdMo.ShouldBe(39.50m);
    }
}
