using Capstan.Features.Fleet.Alerts;
using Capstan.Features.Fleet.Costs;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Capstan.Features.Tests.Fleet.Costs;

/// <summary>The cost analysis job's unit of work on the real database: daily entries (idempotent per instance and
/// day), right-sizing and budget alerts.</summary>
public sealed class CostAnalysisTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private const long GiB = 1L << 30;

    private static readonly DateTime Noon = DateTime.UtcNow.Date.AddHours(12);

    private Task<T> AnalyzeAsync<T>(Func<CostAnalysis, Task<T>> run) =>
        Fixture.WithScopeAsync(scope => run(new CostAnalysis(
            scope.GetRequiredService<DbSession>(), scope.GetRequiredService<IConfiguration>(), scope.GetRequiredService<EventHub>(), NullLogger.Instance)));

    private async Task<Guid> InstanceAsync(string name, string provider, string status, string tags = "{}")
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.instances (id, name, provider, status, tags) VALUES (@Id, @Name, @Provider, @Status, CAST(@Tags AS jsonb))",
            new { Id = id, Name = name, Provider = provider, Status = status, Tags = tags });
        return id;
    }

    private Task SampleAsync(Guid instance, DateTime at, double cpu = 10, long memUsed = 2, long memTotal = 10, long diskTotal = 0, long? sent = null) =>
        Fixture.ExecuteAsync(
            "INSERT INTO fleet.metrics (instance_id, recorded_at, cpu_percent, mem_used, mem_total, disk_total, net_bytes_sent) VALUES (@Instance, @At, @Cpu, @MemUsed, @MemTotal, @Disk, @Sent)",
            new { Instance = instance, At = at, Cpu = cpu, MemUsed = memUsed, MemTotal = memTotal, Disk = diskTotal, Sent = sent });

    private sealed record Entry
    {
        public Guid InstanceId { get; init; }

        public DateTime PeriodStart { get; init; }

        public decimal ComputeUsd { get; init; }

        public decimal StorageUsd { get; init; }

        public decimal NetworkUsd { get; init; }

        public decimal TotalUsd { get; init; }
    }

    [Fact]
    public async Task Each_billable_instance_gets_one_entry_per_day_however_often_the_job_runs()
    {
        var running = await InstanceAsync("web", "fly", "RUNNING");
        var suspended = await InstanceAsync("batch", "aws", "SUSPENDED", """{"tier":"t3.small"}""");
        await InstanceAsync("local", "docker", "RUNNING");
        await InstanceAsync("gone", "fly", "DESTROYED");
        await SampleAsync(running, Noon.Date.AddMinutes(1), diskTotal: 50 * GiB, sent: 1 * GiB);
        await SampleAsync(running, Noon.Date.AddMinutes(2), diskTotal: 50 * GiB, sent: 6 * GiB);

        (await AnalyzeAsync(analysis => analysis.RecordDayAsync(Noon, CancellationToken.None))).ShouldBe(2);
        await AnalyzeAsync(analysis => analysis.RecordDayAsync(Noon.AddHours(3), CancellationToken.None));

        var entries = await Fixture.QueryAsync<Entry>("SELECT instance_id, period_start, compute_usd, storage_usd, network_usd, total_usd FROM fleet.cost_entries ORDER BY total_usd DESC");
        entries.Count.ShouldBe(2);
        // fly performance-1x running, 50 GB, 5 GB sent today: 31/30 + 50×0.15/30 + (150−100)×0.02/30
        entries[0].ShouldBe(new Entry { InstanceId = running, PeriodStart = Noon.Date, ComputeUsd = 1.033333m, StorageUsd = 0.25m, NetworkUsd = 0.033333m, TotalUsd = 1.316666m });
        // aws t3.small suspended, default 20 GB disk: 20×0.08/30
        entries[1].ShouldBe(new Entry { InstanceId = suspended, PeriodStart = Noon.Date, ComputeUsd = 0m, StorageUsd = 0.053333m, NetworkUsd = 0m, TotalUsd = 0.053333m });
    }

    [Fact]
    public async Task Recorded_actual_costs_are_not_overwritten_by_estimates()
    {
        var instance = await InstanceAsync("billed", "fly", "RUNNING");
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.cost_entries (id, instance_id, provider, period_start, period_end, total_usd, source) VALUES (platform.uuid_v7(), @Id, 'fly', @Day, @Day + interval '1 day', 99, 'actual')",
            new { Id = instance, Day = Noon.Date });

        await AnalyzeAsync(analysis => analysis.RecordDayAsync(Noon, CancellationToken.None));

        (await Fixture.ScalarAsync<decimal>("SELECT total_usd FROM fleet.cost_entries WHERE instance_id = @Id", new { Id = instance })).ShouldBe(99m);
    }

    [Fact]
    public async Task Right_sizing_offers_a_smaller_tier_to_under_used_instances_and_keeps_a_dismissal()
    {
        var idle = await InstanceAsync("idle", "fly", "RUNNING");
        var busy = await InstanceAsync("busy", "aws", "RUNNING");
        var fresh = await InstanceAsync("fresh", "fly", "RUNNING");
        var now = DateTime.UtcNow;
        for (var i = 0; i < 20; i++)
        {
            await SampleAsync(idle, now.AddMinutes(-i - 1), cpu: 10, memUsed: 2, memTotal: 10);
            await SampleAsync(busy, now.AddMinutes(-i - 1), cpu: 80, memUsed: 2, memTotal: 10);
        }

        for (var i = 0; i < 5; i++)
        {
            await SampleAsync(fresh, now.AddMinutes(-i - 1));
        }

        var outcome = await AnalyzeAsync(analysis => analysis.RecommendAsync(now, CancellationToken.None));

        outcome.ShouldBe(new CostAnalysis.RecommendationOutcome(3, 1, 2));
        var recommendation = (await Fixture.QueryAsync<(Guid InstanceId, string Current, string Suggested, decimal Savings, double Confidence, double Cpu, double Mem)>(
            "SELECT instance_id, current_tier, suggested_tier, savings_usd_mo, confidence, avg_cpu_percent, avg_mem_percent FROM fleet.rightsizing_recommendations")).ShouldHaveSingleItem();
        recommendation.ShouldBe((idle, "performance-1x", "shared-cpu-2x", 23.24m, 0.2, 10d, 20d));

        await Fixture.ExecuteAsync("UPDATE fleet.rightsizing_recommendations SET dismissed = true");
        await AnalyzeAsync(analysis => analysis.RecommendAsync(now, CancellationToken.None));
        (await Fixture.ScalarAsync<bool>("SELECT dismissed FROM fleet.rightsizing_recommendations")).ShouldBeTrue();

        // A bigger machine gets a different suggestion: the dismissal does not carry over.
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET tags = '{\"tier\":\"performance-2x\"}' WHERE id = @Id", new { Id = idle });
        await AnalyzeAsync(analysis => analysis.RecommendAsync(now, CancellationToken.None));
        (await Fixture.QueryAsync<(string Suggested, bool Dismissed)>("SELECT suggested_tier, dismissed FROM fleet.rightsizing_recommendations")).ShouldHaveSingleItem()
            .ShouldBe(("performance-1x", false));
    }

    [Fact]
    public async Task A_budget_at_its_threshold_raises_a_cost_alert_that_escalates_and_resolves()
    {
        var instance = await InstanceAsync("spender", "fly", "RUNNING");
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        var budget = await Fixture.SendAsAsync(operatorUser, new CreateBudget.Command("team", 10m, "monthly", instance, null, 0.5m));
        budget.Status.ShouldBe("ok");
        var monthStart = AlertEvaluator.PeriodStart("monthly", DateTime.UtcNow);
        async Task SpendAsync(decimal usd) => await Fixture.ExecuteAsync(
            "INSERT INTO fleet.cost_entries (id, instance_id, provider, period_start, period_end, total_usd, source) VALUES (platform.uuid_v7(), @Id, 'fly', @Start, @Start + interval '1 day', @Usd, 'actual')",
            new { Id = instance, Start = monthStart.AddSeconds((double)usd), Usd = usd });

        await SpendAsync(6m);
        var warned = await AnalyzeAsync(analysis => analysis.CheckBudgetsAsync(DateTime.UtcNow, 0, CancellationToken.None));

        var alertId = warned.Raised.ShouldHaveSingleItem();
        var alert = (await Fixture.QueryAsync<(Guid RuleId, Guid? InstanceId, string Severity, string Title, string Message, string Status)>(
            "SELECT rule_id, instance_id, severity, title, message, status FROM fleet.alerts")).ShouldHaveSingleItem();
        alert.ShouldBe((budget.AlertRuleId!.Value, (Guid?)instance, "MEDIUM", "MONTHLY budget 'team' nearly spent", "Spent $6.00 of $10.00 this month (60%, alert at 50%)", "ACTIVE"));
        (await Fixture.ScalarAsync<string>("SELECT type FROM fleet.alert_rules WHERE id = @Id", new { Id = budget.AlertRuleId })).ShouldBe("COST");
        (await Fixture.ScalarAsync<bool>("SELECT alert_sent FROM fleet.budgets")).ShouldBeTrue();

        await SpendAsync(5m);
        (await AnalyzeAsync(analysis => analysis.CheckBudgetsAsync(DateTime.UtcNow, 0, CancellationToken.None))).Raised.ShouldBeEmpty();
        (await Fixture.QueryAsync<(Guid Id, string Severity, string Title)>("SELECT id, severity, title FROM fleet.alerts")).ShouldHaveSingleItem()
            .ShouldBe((alertId, "HIGH", "MONTHLY budget 'team' exceeded"));

        await Fixture.ExecuteAsync("DELETE FROM fleet.cost_entries");
        var cleared = await AnalyzeAsync(analysis => analysis.CheckBudgetsAsync(DateTime.UtcNow, 0, CancellationToken.None));
        cleared.Resolved.ShouldBe([alertId]);
        (await Fixture.ScalarAsync<string>("SELECT resolved_by FROM fleet.alerts")).ShouldBe(AlertEvaluator.AutoResolver);
        (await Fixture.ScalarAsync<bool>("SELECT alert_sent FROM fleet.budgets")).ShouldBeFalse();
    }

    [Fact]
    public async Task A_fleet_wide_budget_sums_every_instance_of_its_provider()
    {
        var a = await InstanceAsync("a", "fly", "RUNNING");
        var b = await InstanceAsync("b", "fly", "RUNNING");
        var c = await InstanceAsync("c", "aws", "RUNNING");
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var budget = await Fixture.SendAsAsync(admin, new CreateBudget.Command("fly today", 5m, "DAILY", null, "fly", null));
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.cost_entries (id, instance_id, provider, period_start, period_end, total_usd) VALUES
                (platform.uuid_v7(), @A, 'fly', @Today, @Today + interval '1 day', 2.5),
                (platform.uuid_v7(), @B, 'fly', @Today, @Today + interval '1 day', 1.5),
                (platform.uuid_v7(), @C, 'aws', @Today, @Today + interval '1 day', 100),
                (platform.uuid_v7(), @A, 'fly', @Today - interval '1 day', @Today, 50)
            """,
            new { A = a, B = b, C = c, Today = DateTime.UtcNow.Date });

        var view = await Fixture.SendAsync(new GetBudget.Query(budget.Id));

        // 2.5 + 1.5 of fly today; aws and yesterday do not count: 4 of 5 = 80 %, exactly the default threshold.
        (view.SpentUsd, view.SpentPercent, view.RemainingUsd, view.Status).ShouldBe((4m, 80m, 1m, "warning"));
        var outcome = await AnalyzeAsync(analysis => analysis.CheckBudgetsAsync(DateTime.UtcNow, 0, CancellationToken.None));
        outcome.Raised.Count.ShouldBe(1);
        (await Fixture.ScalarAsync<Guid?>("SELECT instance_id FROM fleet.alerts")).ShouldBeNull();
        (await Fixture.ScalarAsync<string>("SELECT dedupe_key FROM fleet.alerts")).ShouldBe($"{budget.AlertRuleId}:budget");
    }
}
