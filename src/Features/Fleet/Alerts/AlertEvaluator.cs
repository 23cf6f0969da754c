using System.Globalization;
using System.Text.Json;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Capstan.Features.Fleet.Alerts;

/// <summary>
/// One evaluation of every enabled rule against its instances (the rule's one, or every instance not destroyed):
/// <list type="bullet">
/// <item>THRESHOLD: the latest sample of the last 15 minutes (or, with <c>duration_sec</c>, every sample of that window)
/// compared with the threshold; memory and disk as percentages of their totals.</item>
/// <item>ANOMALY: the latest value against the mean of the other samples of <c>window_sec</c> (at least five); network
/// counters as per-second rates.</item>
/// <item>LIFECYCLE: heartbeat lost for <c>timeout_sec</c> while RUNNING, unresponsive (ERROR/UNKNOWN), a status among
/// <c>target_statuses</c>, or the instance's latest deployment FAILED.</item>
/// <item>SECURITY and COST read tables the fleet-operations area owns: <c>fleet.vulnerabilities</c> (<c>instance_id,
/// cve_id, severity, status, detected_at</c>: open ones at or above <c>severity_threshold</c>),
/// <c>fleet.secret_rotations</c> (<c>instance_id, secret_name, is_overdue, next_rotation</c>), and
/// <c>fleet.cost_entries</c> (<c>instance_id, period_start, total_usd</c>: spend in the current day, week from Sunday,
/// or month against <c>budget_usd × threshold_percent</c>); unauthorized access counts <c>denied</c> audit rows on the
/// instance in the last hour. Until those tables exist (or if their columns differ) such rules have no data and
/// neither fire nor resolve.</item>
/// </list>
/// A condition that holds opens an ACTIVE alert unless one is open for the same rule and instance (the database
/// guarantees one open alert per <c>ruleId:instanceId</c>) or the last one fired within <c>cooldown_sec</c>. A condition
/// that no longer holds resolves the open alert as <c>system:auto-resolution</c>; so does an instance the rule no longer
/// covers. Missing data decides nothing. The COST rule a budget owns is left to the cost analysis, which judges the
/// budget's own spend (possibly over many instances) and raises its alert once per breach.
/// </summary>
internal sealed class AlertEvaluator(DbSession db, EventHub hub, TimeProvider clock, ILogger logger)
{
    public const string AutoResolver = "system:auto-resolution";

    public static readonly TimeSpan Freshness = TimeSpan.FromMinutes(15);

    private const string Rules = """
        SELECT id, name, type, severity, instance_id, conditions::text AS conditions, cooldown_sec
        FROM fleet.alert_rules r
        WHERE r.enabled AND NOT EXISTS (SELECT 1 FROM fleet.budgets b WHERE b.alert_rule_id = r.id)
        ORDER BY r.created_at, r.id
        """;

    private const string Instances = """
        SELECT id, name, status, last_heartbeat_at, created_at FROM fleet.instances WHERE status <> 'DESTROYED'
        """;

    private const string LatestAlerts = """
        SELECT DISTINCT ON (dedupe_key) dedupe_key, id, rule_id, instance_id, status, fired_at
        FROM fleet.alerts WHERE rule_id = ANY(@RuleIds)
        ORDER BY dedupe_key, fired_at DESC, id DESC
        """;

    private const string LatestDeployments = """
        SELECT DISTINCT ON (instance_id) instance_id, status, error
        FROM fleet.deployments WHERE instance_id IS NOT NULL
        ORDER BY instance_id, started_at DESC, id DESC
        """;

    private const string Open = """
        INSERT INTO fleet.alerts (id, rule_id, instance_id, status, severity, title, message, metadata, dedupe_key, fired_at)
        VALUES (@Id, @RuleId, @InstanceId, 'ACTIVE', @Severity, @Title, @Message, CAST(@Metadata AS jsonb), @DedupeKey, @Now)
        ON CONFLICT (dedupe_key) WHERE status IN ('ACTIVE', 'ACKNOWLEDGED') DO NOTHING
        RETURNING id
        """;

    private const string Resolve = """
        UPDATE fleet.alerts SET status = 'RESOLVED', resolved_at = @Now, resolved_by = @By
        WHERE id = @Id AND status IN ('ACTIVE', 'ACKNOWLEDGED')
        """;

    /// <summary>SQL for each metric a rule may watch, over <c>fleet.metrics</c> (constants only).</summary>
    private static readonly IReadOnlyDictionary<string, string> MetricExpressions = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["cpu_percent"] = "cpu_percent",
        ["mem_percent"] = "CASE WHEN mem_total > 0 THEN mem_used * 100.0 / mem_total END",
        ["disk_percent"] = "CASE WHEN disk_total > 0 THEN disk_used * 100.0 / disk_total END",
        ["load_avg_1"] = "load_avg_1",
        ["load_avg_5"] = "load_avg_5",
        ["net_bytes_recv"] = "(net_bytes_recv - lag(net_bytes_recv) OVER w) / NULLIF(extract(epoch FROM recorded_at - lag(recorded_at) OVER w), 0)",
        ["net_bytes_sent"] = "(net_bytes_sent - lag(net_bytes_sent) OVER w) / NULLIF(extract(epoch FROM recorded_at - lag(recorded_at) OVER w), 0)",
    };

    private static readonly IReadOnlyDictionary<string, string> Labels = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["cpu_percent"] = "CPU usage",
        ["mem_percent"] = "Memory usage",
        ["disk_percent"] = "Disk usage",
        ["load_avg_1"] = "Load average (1 min)",
        ["load_avg_5"] = "Load average (5 min)",
        ["net_bytes_recv"] = "Network receive rate",
        ["net_bytes_sent"] = "Network send rate",
    };

    public sealed record Outcome(int Rules, int Evaluations, IReadOnlyList<Guid> Fired, IReadOnlyList<Guid> Resolved, int Suppressed);

    private abstract record Verdict;

    private sealed record Firing(string Title, string Message, object Metadata) : Verdict;

    private sealed record Clear : Verdict;

    public async Task<Outcome> EvaluateAsync(CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        var rules = await db.QueryAsync<RuleRow>(Rules, null, cancellationToken);
        if (rules.Count == 0)
        {
            return new Outcome(0, 0, [], [], 0);
        }

        var instances = (await db.QueryAsync<InstanceRow>(Instances, null, cancellationToken)).ToDictionary(instance => instance.Id);
        var latest = (await db.QueryAsync<AlertRow>(LatestAlerts, new { RuleIds = rules.Select(rule => rule.Id).ToArray() }, cancellationToken))
            .ToDictionary(alert => alert.DedupeKey, StringComparer.Ordinal);
        var fired = new List<Guid>();
        var resolved = new List<Guid>();
        var evaluations = 0;
        var suppressed = 0;
        Dictionary<Guid, DeploymentRow>? deployments = null;

        foreach (var rule in rules)
        {
            var targets = rule.InstanceId is { } only
                ? instances.TryGetValue(only, out var single) ? [single] : []
                : instances.Values.ToList();
            var condition = AlertConditions.Stored(rule.Type, rule.Conditions);
            if (condition is LifecycleCondition { Event: "deploy_failed" } && deployments is null)
            {
                deployments = (await db.QueryAsync<DeploymentRow>(LatestDeployments, null, cancellationToken)).ToDictionary(row => row.InstanceId);
            }

            var verdicts = await JudgeAsync(rule, condition, targets, deployments, now, cancellationToken);
            foreach (var instance in targets)
            {
                evaluations++;
                var key = $"{rule.Id}:{instance.Id}";
                latest.TryGetValue(key, out var previous);
                var isOpen = previous is { Status: "ACTIVE" or "ACKNOWLEDGED" };
                switch (verdicts.GetValueOrDefault(instance.Id))
                {
                    case Firing firing when !isOpen:
                        if (previous is not null && previous.FiredAt > now.AddSeconds(-rule.CooldownSec))
                        {
                            suppressed++;
                            break;
                        }

                        var id = await db.QuerySingleOrDefaultAsync<Guid?>(
                            Open,
                            new
                            {
                                Id = Guid.CreateVersion7(),
                                RuleId = rule.Id,
                                InstanceId = instance.Id,
                                rule.Severity,
                                firing.Title,
                                firing.Message,
                                Metadata = JsonSerializer.Serialize(firing.Metadata),
                                DedupeKey = key,
                                Now = now,
                            },
                            cancellationToken);
                        if (id is { } opened)
                        {
                            fired.Add(opened);
                            await hub.PublishAsync(db, $"fleet.alerts.{opened}", new { type = "fired", alertId = opened, ruleId = rule.Id, instanceId = instance.Id, rule.Severity, firing.Title }, cancellationToken);
                        }

                        break;
                    case Clear when isOpen:
                        await ResolveAsync(previous!.Id, now, resolved, cancellationToken);
                        break;
                }
            }

            // Open alerts of instances the rule no longer covers (destroyed, or the rule moved) are over too.
            var covered = targets.Select(instance => $"{rule.Id}:{instance.Id}").ToHashSet(StringComparer.Ordinal);
            foreach (var stale in latest.Values.Where(alert => alert.RuleId == rule.Id && alert.Status is "ACTIVE" or "ACKNOWLEDGED" && !covered.Contains(alert.DedupeKey)))
            {
                await ResolveAsync(stale.Id, now, resolved, cancellationToken);
            }
        }

        return new Outcome(rules.Count, evaluations, fired, resolved, suppressed);
    }

    private async Task ResolveAsync(Guid alertId, DateTime now, List<Guid> resolved, CancellationToken cancellationToken)
    {
        if (await db.ExecuteAsync(Resolve, new { Id = alertId, Now = now, By = AutoResolver }, cancellationToken) > 0)
        {
            resolved.Add(alertId);
            await hub.PublishAsync(db, $"fleet.alerts.{alertId}", new { type = "resolved", alertId, resolvedBy = AutoResolver }, cancellationToken);
        }
    }

    /// <summary>The verdict per instance; an instance missing from the answer has no data.</summary>
    private async Task<Dictionary<Guid, Verdict>> JudgeAsync(
        RuleRow rule, Condition condition, List<InstanceRow> targets, Dictionary<Guid, DeploymentRow>? deployments, DateTime now, CancellationToken cancellationToken)
    {
        if (targets.Count == 0)
        {
            return [];
        }

        var ids = targets.Select(instance => instance.Id).ToArray();
        try
        {
            return condition switch
            {
                ThresholdCondition threshold => await ThresholdAsync(threshold, targets, ids, now, cancellationToken),
                AnomalyCondition anomaly => await AnomalyAsync(anomaly, targets, ids, now, cancellationToken),
                LifecycleCondition lifecycle => Lifecycle(lifecycle, targets, deployments ?? [], now),
                SecurityCondition security => await SecurityAsync(security, targets, ids, now, cancellationToken),
                CostCondition cost => await CostAsync(cost, targets, ids, now, cancellationToken),
                _ => [],
            };
        }
        catch (PostgresException exception) when (exception.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.UndefinedColumn)
        {
            logger.LogWarning("Alert rule {Rule} ({Type}) has no data source yet: {Reason}", rule.Name, rule.Type, exception.MessageText);
            return [];
        }
    }

    private async Task<Dictionary<Guid, Verdict>> ThresholdAsync(ThresholdCondition condition, List<InstanceRow> targets, Guid[] ids, DateTime now, CancellationToken cancellationToken)
    {
        var window = condition.DurationSec > 0 ? TimeSpan.FromSeconds(condition.DurationSec) : Freshness;
        var samples = (await db.QueryAsync<SampleRow>(
                $"""
                SELECT instance_id, count(*) AS samples, min(v)::double precision AS low, max(v)::double precision AS high,
                       (array_agg(v ORDER BY recorded_at DESC))[1]::double precision AS latest, NULL::double precision AS baseline
                FROM (SELECT instance_id, recorded_at, {MetricExpressions[condition.Metric]} AS v
                      FROM fleet.metrics WHERE recorded_at > @Since AND recorded_at <= @Now AND instance_id = ANY(@Ids)) m
                WHERE v IS NOT NULL
                GROUP BY instance_id
                """,
                new { Since = now - window, Now = now, Ids = ids },
                cancellationToken))
            .ToDictionary(sample => sample.InstanceId);
        var label = Labels[condition.Metric];
        var verdicts = new Dictionary<Guid, Verdict>();
        foreach (var instance in targets)
        {
            if (!samples.TryGetValue(instance.Id, out var sample))
            {
                continue;
            }

            // Sustained: over the window, the sample nearest the threshold must still cross it.
            var value = condition.DurationSec == 0 ? sample.Latest : condition.Operator is "gt" or "gte" ? sample.Low : sample.High;
            var shown = Format(condition.Metric, value);
            verdicts[instance.Id] = condition.Holds(value)
                ? new Firing(
                    $"{label} threshold exceeded on {instance.Name}",
                    $"{label} is {shown} (threshold: {condition.Operator} {Format(condition.Metric, condition.Threshold)}"
                        + (condition.DurationSec > 0 ? $" for {condition.DurationSec} s)" : ")"),
                    new { metric = condition.Metric, value = Math.Round(value, 2), threshold = condition.Threshold, @operator = condition.Operator, duration_sec = condition.DurationSec, samples = sample.Samples })
                : new Clear();
        }

        return verdicts;
    }

    private async Task<Dictionary<Guid, Verdict>> AnomalyAsync(AnomalyCondition condition, List<InstanceRow> targets, Guid[] ids, DateTime now, CancellationToken cancellationToken)
    {
        var samples = (await db.QueryAsync<SampleRow>(
                $"""
                SELECT instance_id, count(*) AS samples, min(v)::double precision AS low, max(v)::double precision AS high,
                       max(v) FILTER (WHERE rn = 1)::double precision AS latest, avg(v) FILTER (WHERE rn > 1)::double precision AS baseline
                FROM (
                    SELECT instance_id, v, row_number() OVER (PARTITION BY instance_id ORDER BY recorded_at DESC) AS rn
                    FROM (SELECT instance_id, recorded_at, {MetricExpressions[condition.Metric]} AS v
                          FROM fleet.metrics WHERE recorded_at > @Since AND recorded_at <= @Now AND instance_id = ANY(@Ids)
                          WINDOW w AS (PARTITION BY instance_id ORDER BY recorded_at)) raw
                    WHERE v IS NOT NULL AND v >= 0
                ) s
                GROUP BY instance_id
                """,
                new { Since = now.AddSeconds(-condition.WindowSec), Now = now, Ids = ids },
                cancellationToken))
            .ToDictionary(sample => sample.InstanceId);
        var label = Labels[condition.Metric];
        var verdicts = new Dictionary<Guid, Verdict>();
        foreach (var instance in targets)
        {
            if (!samples.TryGetValue(instance.Id, out var sample) || sample.Samples < 5 || sample.Baseline is not { } baseline || baseline <= 0)
            {
                continue;
            }

            var deviation = Math.Abs(sample.Latest - baseline) / baseline * 100;
            verdicts[instance.Id] = deviation >= condition.DeviationPercent
                ? new Firing(
                    $"{label} anomaly on {instance.Name}",
                    $"{label} is {Format(condition.Metric, sample.Latest)}, {deviation:0.#}% off its {condition.WindowSec} s baseline of {Format(condition.Metric, baseline)}"
                        + $" (limit: {condition.DeviationPercent:0.#}%)",
                    new { metric = condition.Metric, value = Math.Round(sample.Latest, 2), baseline = Math.Round(baseline, 2), deviation_percent = Math.Round(deviation, 2), window_sec = condition.WindowSec, samples = sample.Samples })
                : new Clear();
        }

        return verdicts;
    }

    private static Dictionary<Guid, Verdict> Lifecycle(LifecycleCondition condition, List<InstanceRow> targets, Dictionary<Guid, DeploymentRow> deployments, DateTime now)
    {
        var verdicts = new Dictionary<Guid, Verdict>();
        foreach (var instance in targets)
        {
            Verdict? verdict = condition.Event switch
            {
                "heartbeat_lost" when instance.Status == "RUNNING" && (instance.LastHeartbeatAt ?? instance.CreatedAt) < now.AddSeconds(-condition.TimeoutSec) =>
                    new Firing(
                        $"Heartbeat lost on {instance.Name}",
                        instance.LastHeartbeatAt is { } last
                            ? $"No heartbeat for {(now - last).TotalSeconds:0} s (timeout: {condition.TimeoutSec} s)"
                            : $"No heartbeat since it was registered (timeout: {condition.TimeoutSec} s)",
                        new { @event = condition.Event, last_heartbeat_at = instance.LastHeartbeatAt, timeout_sec = condition.TimeoutSec }),
                "unresponsive" when instance.Status is "ERROR" or "UNKNOWN" =>
                    new Firing($"{instance.Name} is unresponsive", $"Instance status is {instance.Status}", new { @event = condition.Event, status = instance.Status }),
                "status_changed" when condition.TargetStatuses.Contains(instance.Status) =>
                    new Firing($"{instance.Name} is {instance.Status}", $"Instance status is {instance.Status}", new { @event = condition.Event, status = instance.Status }),
                "deploy_failed" when deployments.TryGetValue(instance.Id, out var deployment) && deployment.Status == "FAILED" =>
                    new Firing($"Deployment failed on {instance.Name}", deployment.Error ?? "The latest deployment failed", new { @event = condition.Event, deployment.Status }),
                "deploy_failed" when !deployments.ContainsKey(instance.Id) => null,
                _ => new Clear(),
            };
            if (verdict is not null)
            {
                verdicts[instance.Id] = verdict;
            }
        }

        return verdicts;
    }

    private async Task<Dictionary<Guid, Verdict>> SecurityAsync(SecurityCondition condition, List<InstanceRow> targets, Guid[] ids, DateTime now, CancellationToken cancellationToken)
    {
        var (source, sql) = condition.Check switch
        {
            "cve_detected" => ("fleet.vulnerabilities", """
                SELECT instance_id::text AS instance_key, count(*) AS n, (array_agg(cve_id ORDER BY detected_at DESC))[1:5] AS names
                FROM fleet.vulnerabilities
                WHERE instance_id = ANY(@Ids) AND status = 'OPEN' AND severity = ANY(@Severities)
                GROUP BY instance_id
                """),
            "secret_expired" => ("fleet.secret_rotations", """
                SELECT instance_id::text AS instance_key, count(*) AS n, (array_agg(secret_name ORDER BY secret_name))[1:5] AS names
                FROM fleet.secret_rotations
                WHERE instance_id = ANY(@Ids) AND (is_overdue OR next_rotation < @Now)
                GROUP BY instance_id
                """),
            _ => ("identity.audit_log", """
                SELECT resource_id AS instance_key, count(*) AS n, (array_agg(action ORDER BY occurred_at DESC))[1:5] AS names
                FROM identity.audit_log
                WHERE resource_type = 'instance' AND result = 'denied' AND occurred_at > @Since AND resource_id = ANY(@Keys)
                GROUP BY resource_id
                """),
        };
        if (!await db.ExecuteScalarAsync<bool>("SELECT to_regclass(@Source) IS NOT NULL", new { Source = source }, cancellationToken))
        {
            return [];
        }

        var severities = condition.SeverityThreshold switch
        {
            "MEDIUM" => new[] { "CRITICAL", "HIGH", "MEDIUM" },
            "HIGH" => ["CRITICAL", "HIGH"],
            _ => ["CRITICAL"],
        };
        var findings = (await db.QueryAsync<FindingRow>(
                sql, new { Ids = ids, Keys = ids.Select(id => id.ToString()).ToArray(), Severities = severities, Now = now, Since = now.AddHours(-1) }, cancellationToken))
            .ToDictionary(finding => finding.InstanceKey, StringComparer.OrdinalIgnoreCase);
        var verdicts = new Dictionary<Guid, Verdict>();
        foreach (var instance in targets)
        {
            verdicts[instance.Id] = findings.TryGetValue(instance.Id.ToString(), out var finding)
                ? condition.Check switch
                {
                    "cve_detected" => new Firing(
                        $"{finding.N} open {string.Join("/", severities)} vulnerabilities on {instance.Name}",
                        $"Open vulnerabilities at or above {condition.SeverityThreshold}: {string.Join(", ", finding.Names)}",
                        new { check = condition.Check, count = finding.N, severity_threshold = condition.SeverityThreshold, ids = finding.Names }),
                    "secret_expired" => new Firing(
                        $"{finding.N} secrets overdue for rotation on {instance.Name}",
                        $"Overdue secrets: {string.Join(", ", finding.Names)}",
                        new { check = condition.Check, count = finding.N, secrets = finding.Names }),
                    _ => new Firing(
                        $"Unauthorized access attempts on {instance.Name}",
                        $"{finding.N} denied actions on the instance in the last hour ({string.Join(", ", finding.Names)})",
                        new { check = condition.Check, count = finding.N, actions = finding.Names }),
                }
                : new Clear();
        }

        return verdicts;
    }

    private async Task<Dictionary<Guid, Verdict>> CostAsync(CostCondition condition, List<InstanceRow> targets, Guid[] ids, DateTime now, CancellationToken cancellationToken)
    {
        if (!await db.ExecuteScalarAsync<bool>("SELECT to_regclass('fleet.cost_entries') IS NOT NULL", null, cancellationToken))
        {
            return [];
        }

        var start = PeriodStart(condition.Period, now);
        var spent = (await db.QueryAsync<SpendRow>(
                """
                SELECT instance_id, sum(total_usd)::double precision AS spent
                FROM fleet.cost_entries WHERE instance_id = ANY(@Ids) AND period_start >= @Start
                GROUP BY instance_id
                """,
                new { Ids = ids, Start = start },
                cancellationToken))
            .ToDictionary(row => row.InstanceId, row => row.Spent);
        var limit = condition.BudgetUsd * condition.ThresholdPercent / 100;
        var verdicts = new Dictionary<Guid, Verdict>();
        foreach (var instance in targets)
        {
            var amount = spent.GetValueOrDefault(instance.Id);
            verdicts[instance.Id] = amount >= limit
                ? new Firing(
                    $"{condition.Period} budget {(amount >= condition.BudgetUsd ? "exceeded" : "nearly spent")} on {instance.Name}",
                    string.Create(CultureInfo.InvariantCulture, $"Spent ${amount:0.00} of ${condition.BudgetUsd:0.00} this {PeriodNoun(condition.Period)} ({amount / condition.BudgetUsd * 100:0.#}%, alert at {condition.ThresholdPercent:0.#}%)"),
                    new { period = condition.Period, spent_usd = Math.Round(amount, 2), budget_usd = condition.BudgetUsd, threshold_percent = condition.ThresholdPercent, period_start = start })
                : new Clear();
        }

        return verdicts;
    }

    /// <summary>Where the current budget period began (UTC): today, the last Sunday, or the 1st of the month.</summary>
    public static DateTime PeriodStart(string period, DateTime now) => period switch
    {
        "daily" => now.Date,
        "weekly" => now.Date.AddDays(-(int)now.DayOfWeek),
        _ => new DateTime(now.Year, now.Month, 1, 0, 0, 0, DateTimeKind.Utc),
    };

    private static string PeriodNoun(string period) => period switch { "daily" => "day", "weekly" => "week", _ => "month" };

    private static string Format(string metric, double value) =>
        metric.EndsWith("_percent", StringComparison.Ordinal)
            ? string.Create(CultureInfo.InvariantCulture, $"{value:0.#}%")
            : metric.StartsWith("net_", StringComparison.Ordinal)
                ? string.Create(CultureInfo.InvariantCulture, $"{value:0} B/s")
                : string.Create(CultureInfo.InvariantCulture, $"{value:0.##}");

    private sealed record RuleRow
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Type { get; init; } = string.Empty;

        public string Severity { get; init; } = string.Empty;

        public Guid? InstanceId { get; init; }

        public string Conditions { get; init; } = "{}";

        public long CooldownSec { get; init; }
    }

    private sealed record InstanceRow
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Status { get; init; } = string.Empty;

        public DateTime? LastHeartbeatAt { get; init; }

        public DateTime CreatedAt { get; init; }
    }

    private sealed record AlertRow
    {
        public string DedupeKey { get; init; } = string.Empty;

        public Guid Id { get; init; }

        public Guid RuleId { get; init; }

        public Guid? InstanceId { get; init; }

        public string Status { get; init; } = string.Empty;

        public DateTime FiredAt { get; init; }
    }

    private sealed record SampleRow
    {
        public Guid InstanceId { get; init; }

        public long Samples { get; init; }

        public double Low { get; init; }

        public double High { get; init; }

        public double Latest { get; init; }

        public double? Baseline { get; init; }
    }

    private sealed record DeploymentRow
    {
        public Guid InstanceId { get; init; }

        public string Status { get; init; } = string.Empty;

        public string? Error { get; init; }
    }

    private sealed record FindingRow
    {
        public string InstanceKey { get; init; } = string.Empty;

        public long N { get; init; }

        public string[] Names { get; init; } = [];
    }

    private sealed record SpendRow
    {
        public Guid InstanceId { get; init; }

        public double Spent { get; init; }
    }
}
