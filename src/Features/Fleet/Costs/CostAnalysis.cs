using System.Text.Json;
using Capstan.Features.Fleet.Alerts;
using Capstan.Features.Fleet.Providers;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Fleet.Costs;

/// <summary>
/// The cost analysis (reference sindri.md §6 "cost worker"): one estimated cost entry per instance and UTC day
/// (upserted, so running it again the same day refines the day's row instead of adding one; entries recorded as
/// <c>actual</c> or <c>reconciled</c> are left alone), right-sizing recommendations, and budget alerts: a budget at or
/// past its threshold raises a COST alert under its rule (MEDIUM while a warning, HIGH once exceeded) and notifies the
/// rule's channels; back under it, the alert resolves as <c>system:auto-resolution</c>.
/// </summary>
internal sealed class CostAnalysis(DbSession db, IConfiguration configuration, EventHub hub, ILogger logger)
{
    public sealed record Outcome(int Entries, int Budgets, IReadOnlyList<Guid> Raised, IReadOnlyList<Guid> Resolved);

    public sealed record RecommendationOutcome(int Analyzed, int Generated, int Skipped);

    private const string Instances = """
        SELECT i.id, i.name, i.provider, i.status, i.tags::text AS tags,
               (SELECT m.disk_total FROM fleet.metrics m
                WHERE m.instance_id = i.id AND m.recorded_at < @DayEnd ORDER BY m.recorded_at DESC LIMIT 1) AS disk_total,
               (SELECT max(m.net_bytes_sent) - min(m.net_bytes_sent) FROM fleet.metrics m
                WHERE m.instance_id = i.id AND m.recorded_at >= @DayStart AND m.recorded_at < @DayEnd) AS sent_bytes
        FROM fleet.instances i
        WHERE i.status IN ('RUNNING', 'STOPPED', 'SUSPENDED') AND i.created_at < @DayEnd
        ORDER BY i.id
        """;

    private const string UpsertEntry = """
        INSERT INTO fleet.cost_entries AS e
            (id, instance_id, provider, period_start, period_end, compute_usd, storage_usd, network_usd, llm_usd, total_usd, source, metadata, created_at, updated_at)
        VALUES (@Id, @InstanceId, @Provider, @DayStart, @DayEnd, @Compute, @Storage, @Network, 0, @Total, 'estimated', CAST(@Metadata AS jsonb), @Now, @Now)
        ON CONFLICT (instance_id, period_start) DO UPDATE
        SET provider = EXCLUDED.provider, compute_usd = EXCLUDED.compute_usd, storage_usd = EXCLUDED.storage_usd, network_usd = EXCLUDED.network_usd,
            total_usd = EXCLUDED.compute_usd + EXCLUDED.storage_usd + EXCLUDED.network_usd + e.llm_usd, metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at
        WHERE e.source = 'estimated'
        """;

    private const string Usage = """
        SELECT i.id, i.name, i.provider, i.tags::text AS tags, count(m.instance_id) AS samples,
               COALESCE(avg(m.cpu_percent), 0)::double precision AS avg_cpu,
               COALESCE(avg(CASE WHEN m.mem_total > 0 THEN m.mem_used * 100.0 / m.mem_total END), 0)::double precision AS avg_mem
        FROM fleet.instances i
        LEFT JOIN fleet.metrics m ON m.instance_id = i.id AND m.recorded_at > @Since AND m.recorded_at <= @Now
        WHERE i.status = 'RUNNING'
        GROUP BY i.id
        ORDER BY i.id
        """;

    private const string UpsertRecommendation = """
        INSERT INTO fleet.rightsizing_recommendations AS r
            (id, instance_id, current_tier, suggested_tier, current_usd_mo, suggested_usd_mo, savings_usd_mo, avg_cpu_percent, avg_mem_percent, sample_count, confidence, generated_at, dismissed)
        VALUES (@Id, @InstanceId, @CurrentTier, @SuggestedTier, @CurrentUsdMo, @SuggestedUsdMo, @SavingsUsdMo, @AvgCpu, @AvgMem, @Samples, @Confidence, @Now, false)
        ON CONFLICT (instance_id) DO UPDATE
        SET current_tier = EXCLUDED.current_tier, current_usd_mo = EXCLUDED.current_usd_mo, suggested_usd_mo = EXCLUDED.suggested_usd_mo,
            savings_usd_mo = EXCLUDED.savings_usd_mo, avg_cpu_percent = EXCLUDED.avg_cpu_percent, avg_mem_percent = EXCLUDED.avg_mem_percent,
            sample_count = EXCLUDED.sample_count, confidence = EXCLUDED.confidence, generated_at = EXCLUDED.generated_at,
            -- A dismissal holds for the suggestion it dismissed; a different suggestion is news.
            dismissed = r.dismissed AND r.suggested_tier = EXCLUDED.suggested_tier,
            dismissed_by = CASE WHEN r.suggested_tier = EXCLUDED.suggested_tier THEN r.dismissed_by END,
            dismissed_at = CASE WHEN r.suggested_tier = EXCLUDED.suggested_tier THEN r.dismissed_at END,
            suggested_tier = EXCLUDED.suggested_tier
        """;

    private const string DropRecommendation = "DELETE FROM fleet.rightsizing_recommendations WHERE instance_id = @InstanceId";

    private const string OpenAlert = """
        INSERT INTO fleet.alerts (id, rule_id, instance_id, status, severity, title, message, metadata, dedupe_key, fired_at)
        VALUES (@Id, @RuleId, @InstanceId, 'ACTIVE', @Severity, @Title, @Message, CAST(@Metadata AS jsonb), @DedupeKey, @Now)
        ON CONFLICT (dedupe_key) WHERE status IN ('ACTIVE', 'ACKNOWLEDGED') DO NOTHING
        RETURNING id
        """;

    private const string Escalate = """
        UPDATE fleet.alerts SET severity = @Severity, title = @Title, message = @Message, metadata = CAST(@Metadata AS jsonb)
        WHERE dedupe_key = @DedupeKey AND status IN ('ACTIVE', 'ACKNOWLEDGED') AND severity <> @Severity
        """;

    private const string ResolveAlert = """
        UPDATE fleet.alerts SET status = 'RESOLVED', resolved_at = @Now, resolved_by = @By
        WHERE dedupe_key = @DedupeKey AND status IN ('ACTIVE', 'ACKNOWLEDGED')
        RETURNING id
        """;

    private const string MarkSent = "UPDATE fleet.budgets SET alert_sent = @Sent, alert_rule_id = @RuleId WHERE id = @Id AND (alert_sent <> @Sent OR alert_rule_id IS DISTINCT FROM @RuleId)";

    /// <summary>Writes (or refreshes) every billable instance's entry for the UTC day of <paramref name="now"/>.</summary>
    public async Task<int> RecordDayAsync(DateTime now, CancellationToken cancellationToken)
    {
        var dayStart = now.Date;
        var dayEnd = dayStart.AddDays(1);
        var catalogs = (await ProviderCatalog.AllAsync(db, configuration, cancellationToken)).ToDictionary(entry => entry.Document.Id, entry => entry.Document, StringComparer.Ordinal);
        var written = 0;
        foreach (var instance in await db.QueryAsync<InstanceRow>(Instances, new { DayStart = dayStart, DayEnd = dayEnd }, cancellationToken))
        {
            if (!catalogs.TryGetValue(instance.Provider, out var provider) || !provider.CostModel || CostModel.TierOf(provider, instance.Tags) is not { } tier)
            {
                continue;
            }

            var diskGb = instance.DiskTotal is > 0 ? Math.Round(instance.DiskTotal.Value / CostModel.GiB, 3) : CostModel.DefaultDiskGb;
            var egressGb = Math.Round(Math.Max(0, instance.SentBytes ?? 0) / CostModel.GiB, 3);
            var day = CostModel.Daily(provider, tier, instance.Status == "RUNNING", diskGb, egressGb);
            written += await db.ExecuteAsync(
                UpsertEntry,
                new
                {
                    Id = Guid.CreateVersion7(),
                    InstanceId = instance.Id,
                    instance.Provider,
                    DayStart = dayStart,
                    DayEnd = dayEnd,
                    day.Compute,
                    day.Storage,
                    day.Network,
                    day.Total,
                    Metadata = JsonSerializer.Serialize(new { tier = tier.Id, diskGb, egressGbPerDay = egressGb, status = instance.Status, source = "cost-analysis" }),
                    Now = now,
                },
                cancellationToken);
        }

        return written;
    }

    /// <summary>Right-sizing over the last 30 days of metrics of every running instance.</summary>
    public async Task<RecommendationOutcome> RecommendAsync(DateTime now, CancellationToken cancellationToken)
    {
        var catalogs = (await ProviderCatalog.AllAsync(db, configuration, cancellationToken)).ToDictionary(entry => entry.Document.Id, entry => entry.Document, StringComparer.Ordinal);
        var analyzed = 0;
        var generated = 0;
        foreach (var usage in await db.QueryAsync<UsageRow>(Usage, new { Since = now.AddDays(-30), Now = now }, cancellationToken))
        {
            analyzed++;
            var recommendation = catalogs.TryGetValue(usage.Provider, out var provider) && provider.CostModel && CostModel.TierOf(provider, usage.Tags) is { } current
                ? CostModel.RightSize(provider, current, usage.AvgCpu, usage.AvgMem, usage.Samples)
                : null;
            if (recommendation is null)
            {
                await db.ExecuteAsync(DropRecommendation, new { InstanceId = usage.Id }, cancellationToken);
                continue;
            }

            generated++;
            await db.ExecuteAsync(
                UpsertRecommendation,
                new
                {
                    Id = Guid.CreateVersion7(),
                    InstanceId = usage.Id,
                    CurrentTier = recommendation.Current.Id,
                    SuggestedTier = recommendation.Suggested.Id,
                    CurrentUsdMo = recommendation.Current.PricePerMonth,
                    SuggestedUsdMo = recommendation.Suggested.PricePerMonth,
                    recommendation.SavingsUsdMo,
                    AvgCpu = Math.Round(usage.AvgCpu, 2),
                    AvgMem = Math.Round(usage.AvgMem, 2),
                    usage.Samples,
                    recommendation.Confidence,
                    Now = now,
                },
                cancellationToken);
        }

        return new RecommendationOutcome(analyzed, generated, analyzed - generated);
    }

    /// <summary>Raises, escalates or resolves each budget's alert from its current spend.</summary>
    public async Task<Outcome> CheckBudgetsAsync(DateTime now, int entries, CancellationToken cancellationToken)
    {
        var raised = new List<Guid>();
        var resolved = new List<Guid>();
        var budgets = await db.QueryAsync<Budgets.Row>($"{Budgets.Select} ORDER BY b.created_at, b.id", Budgets.Parameters(now), cancellationToken);
        foreach (var budget in budgets)
        {
            var ruleId = budget.AlertRuleId
                ?? await Budgets.CreateRuleAsync(db, budget.Id, budget.Name, budget.AmountUsd, budget.Period, budget.AlertThreshold, budget.InstanceId, budget.CreatedBy, now, cancellationToken);
            var key = $"{ruleId}:{budget.InstanceId?.ToString() ?? "budget"}";
            var status = budget.Status;
            if (status == "ok")
            {
                foreach (var id in await db.QueryAsync<Guid>(ResolveAlert, new { DedupeKey = key, Now = now, By = AlertEvaluator.AutoResolver }, cancellationToken))
                {
                    resolved.Add(id);
                    await hub.PublishAsync(db, $"fleet.alerts.{id}", new { type = "resolved", alertId = id, resolvedBy = AlertEvaluator.AutoResolver }, cancellationToken);
                }

                await db.ExecuteAsync(MarkSent, new { budget.Id, Sent = false, RuleId = ruleId }, cancellationToken);
                continue;
            }

            var alert = new
            {
                Id = Guid.CreateVersion7(),
                RuleId = ruleId,
                budget.InstanceId,
                Severity = status == "exceeded" ? "HIGH" : "MEDIUM",
                Title = $"{budget.Period} budget '{budget.Name}' {(status == "exceeded" ? "exceeded" : "nearly spent")}",
                Message = budget.Describe(),
                Metadata = JsonSerializer.Serialize(new
                {
                    budget_id = budget.Id,
                    period = budget.Period,
                    status,
                    spent_usd = CostModel.Cents(budget.SpentUsd),
                    amount_usd = budget.AmountUsd,
                    threshold_percent = budget.AlertThreshold * 100,
                    period_start = budget.PeriodStart,
                    provider = budget.Provider,
                }),
                DedupeKey = key,
                Now = now,
            };
            if (await db.QuerySingleOrDefaultAsync<Guid?>(OpenAlert, alert, cancellationToken) is { } opened)
            {
                raised.Add(opened);
                await hub.PublishAsync(db, $"fleet.alerts.{opened}", new { type = "fired", alertId = opened, ruleId, instanceId = budget.InstanceId, alert.Severity, alert.Title }, cancellationToken);
            }
            else
            {
                await db.ExecuteAsync(Escalate, alert, cancellationToken);
            }

            await db.ExecuteAsync(MarkSent, new { budget.Id, Sent = true, RuleId = ruleId }, cancellationToken);
        }

        return new Outcome(entries, budgets.Count, raised, resolved);
    }

    /// <summary>The whole analysis: today's entries, recommendations, then budgets (which see today's entries).</summary>
    public async Task<Outcome> RunAsync(DateTime now, CancellationToken cancellationToken)
    {
        var entries = await RecordDayAsync(now, cancellationToken);
        var recommendations = await RecommendAsync(now, cancellationToken);
        var outcome = await CheckBudgetsAsync(now, entries, cancellationToken);
        logger.LogInformation(
            "Cost analysis: {Entries} daily entries, {Generated}/{Analyzed} recommendations, {Budgets} budgets ({Raised} alerts raised, {Resolved} resolved)",
            entries, recommendations.Generated, recommendations.Analyzed, outcome.Budgets, outcome.Raised.Count, outcome.Resolved.Count);
        return outcome;
    }

    private sealed record InstanceRow
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Provider { get; init; } = string.Empty;

        public string Status { get; init; } = string.Empty;

        public string? Tags { get; init; }

        public long? DiskTotal { get; init; }

        public long? SentBytes { get; init; }
    }

    private sealed record UsageRow
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Provider { get; init; } = string.Empty;

        public string? Tags { get; init; }

        public long Samples { get; init; }

        public double AvgCpu { get; init; }

        public double AvgMem { get; init; }
    }
}

/// <summary>Runs <see cref="CostAnalysis"/> every <c>Fleet:Costs:IntervalMinutes</c> (60), once per fleet under the
/// job's advisory lock, and notifies the channels of the budget alerts it raised.</summary>
public sealed class CostAnalysisJob(IServiceProvider services, ILogger<CostAnalysisJob> logger) : RecurringJob(services, logger)
{
    private readonly TimeSpan _interval = TimeSpan.FromMinutes(Math.Max(1, services.GetRequiredService<IConfiguration>().GetValue("Fleet:Costs:IntervalMinutes", 60)));
    private readonly ILogger _logger = logger;

    public override string Name => "fleet-cost-analysis";

    public override TimeSpan Interval => _interval;

    protected override TimeSpan FirstRunDelay => TimeSpan.FromSeconds(20);

    public override async Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        var db = scope.GetRequiredService<DbSession>();
        var hub = scope.GetRequiredService<EventHub>();
        var configuration = scope.GetRequiredService<IConfiguration>();
        var outcome = await new CostAnalysis(db, configuration, hub, _logger).RunAsync(scope.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime, cancellationToken);
        if (outcome.Raised.Count > 0)
        {
            var sender = new NotificationSender(scope.GetRequiredService<IHttpClientFactory>(), configuration, hub);
            await AlertEvaluation.NotifyAsync(db, scope.GetRequiredService<EnvelopeCipher>(), sender, outcome.Raised, cancellationToken);
        }
    }
}
