using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Capstan.Features.Fleet.Alerts;

/// <summary>
/// The conditions of the five rule types (reference sindri.md §8.6), chosen by the rule's <c>type</c> (the upstream's
/// first-match union is not repeated). Input fields may be snake_case or camelCase; rules store them snake_case.
/// </summary>
internal static class AlertConditions
{
    public static readonly string[] ThresholdMetrics = ["cpu_percent", "mem_percent", "disk_percent", "load_avg_1", "load_avg_5"];
    public static readonly string[] AnomalyMetrics = ["cpu_percent", "mem_percent", "net_bytes_recv", "net_bytes_sent"];
    public static readonly string[] Operators = ["gt", "gte", "lt", "lte"];
    public static readonly string[] LifecycleEvents = ["heartbeat_lost", "unresponsive", "deploy_failed", "status_changed"];
    public static readonly string[] SecurityChecks = ["cve_detected", "secret_expired", "unauthorized_access"];
    public static readonly string[] SecurityThresholds = ["CRITICAL", "HIGH", "MEDIUM"];
    public static readonly string[] CostPeriods = ["daily", "weekly", "monthly"];

    /// <summary>The parsed conditions of a rule, or the problems found (<c>conditions.&lt;field&gt;</c>: message).</summary>
    public static (Condition? Condition, List<KeyValuePair<string, string>> Errors) Parse(string? type, JsonElement? json)
    {
        var errors = new List<KeyValuePair<string, string>>();
        if (json is not { ValueKind: JsonValueKind.Object } conditions)
        {
            errors.Add(new("conditions", "conditions must be an object"));
            return (null, errors);
        }

        void Fail(string field, string message) => errors.Add(new($"conditions.{field}", message));

        Condition? parsed = type?.Trim().ToUpperInvariant() switch
        {
            "THRESHOLD" => Threshold(conditions, Fail),
            "ANOMALY" => Anomaly(conditions, Fail),
            "LIFECYCLE" => Lifecycle(conditions, Fail),
            "SECURITY" => Security(conditions, Fail),
            "COST" => Cost(conditions, Fail),
            _ => null,
        };
        return (errors.Count == 0 ? parsed : null, errors);
    }

    /// <summary>Conditions stored by this service (always valid).</summary>
    public static Condition Stored(string type, string json) => Parse(type, JsonDocument.Parse(json).RootElement).Condition
        ?? throw new InvalidOperationException($"Stored conditions of a {type} rule do not parse");

    private static ThresholdCondition? Threshold(JsonElement json, Action<string, string> fail)
    {
        var metric = Text(json, "metric");
        var op = Text(json, "operator", "op");
        var threshold = Number(json, "threshold");
        var duration = Number(json, "duration_sec", "durationSec") ?? 0;
        if (!ThresholdMetrics.Contains(metric))
        {
            fail("metric", $"metric must be one of: {string.Join(", ", ThresholdMetrics)}");
        }

        if (!Operators.Contains(op))
        {
            fail("operator", "operator must be one of: gt, gte, lt, lte");
        }

        var isPercent = metric is not null && metric.EndsWith("_percent", StringComparison.Ordinal);
        if (threshold is not { } limit || !(limit >= 0 && (!isPercent || limit <= 100)))
        {
            fail("threshold", isPercent ? "threshold must be a number from 0 to 100" : "threshold must be a number of 0 or more");
        }

        if (!(duration >= 0 && duration <= 3600))
        {
            fail("duration_sec", "duration_sec must be between 0 and 3600");
        }

        return metric is null || op is null || threshold is null ? null : new ThresholdCondition(metric, op, threshold.Value, (int)duration);
    }

    private static AnomalyCondition? Anomaly(JsonElement json, Action<string, string> fail)
    {
        var metric = Text(json, "metric");
        var deviation = Number(json, "deviation_percent", "deviationPercent");
        var window = Number(json, "window_sec", "windowSec");
        if (!AnomalyMetrics.Contains(metric))
        {
            fail("metric", $"metric must be one of: {string.Join(", ", AnomalyMetrics)}");
        }

        if (deviation is not { } percent || !(percent >= 1 && percent <= 1000))
        {
            fail("deviation_percent", "deviation_percent must be between 1 and 1000");
        }

        if (window is not { } seconds || !(seconds >= 60 && seconds <= 86400))
        {
            fail("window_sec", "window_sec must be between 60 and 86400");
        }

        return metric is null || deviation is null || window is null ? null : new AnomalyCondition(metric, deviation.Value, (int)window.Value);
    }

    private static LifecycleCondition? Lifecycle(JsonElement json, Action<string, string> fail)
    {
        var lifecycleEvent = Text(json, "event");
        var timeout = Number(json, "timeout_sec", "timeoutSec") ?? 120;
        var statuses = Strings(json, "target_statuses", "targetStatuses")?.Select(status => status.ToUpperInvariant()).ToArray();
        if (!LifecycleEvents.Contains(lifecycleEvent))
        {
            fail("event", $"event must be one of: {string.Join(", ", LifecycleEvents)}");
        }

        if (!(timeout >= 30 && timeout <= 3600))
        {
            fail("timeout_sec", "timeout_sec must be between 30 and 3600");
        }

        if (statuses is not null && (statuses.Length == 0 || !statuses.All(FleetVocabulary.Statuses.Contains)))
        {
            fail("target_statuses", $"target_statuses must list statuses of: {string.Join(", ", FleetVocabulary.Statuses)}");
        }

        return lifecycleEvent is null ? null : new LifecycleCondition(lifecycleEvent, (int)timeout, statuses ?? ["ERROR", "UNKNOWN"]);
    }

    private static SecurityCondition? Security(JsonElement json, Action<string, string> fail)
    {
        var check = Text(json, "check");
        var severity = Text(json, "severity_threshold", "severityThreshold")?.ToUpperInvariant() ?? "CRITICAL";
        if (!SecurityChecks.Contains(check))
        {
            fail("check", $"check must be one of: {string.Join(", ", SecurityChecks)}");
        }

        if (!SecurityThresholds.Contains(severity))
        {
            fail("severity_threshold", "severity_threshold must be one of: CRITICAL, HIGH, MEDIUM");
        }

        return check is null ? null : new SecurityCondition(check, severity);
    }

    private static CostCondition? Cost(JsonElement json, Action<string, string> fail)
    {
        var budget = Number(json, "budget_usd", "budgetUsd");
        var period = Text(json, "period")?.ToLowerInvariant();
        var threshold = Number(json, "threshold_percent", "thresholdPercent");
        if (budget is not { } amount || !(amount > 0))
        {
            fail("budget_usd", "budget_usd must be more than 0");
        }

        if (!CostPeriods.Contains(period))
        {
            fail("period", "period must be one of: daily, weekly, monthly");
        }

        if (threshold is not { } share || !(share >= 1 && share <= 100))
        {
            fail("threshold_percent", "threshold_percent must be between 1 and 100");
        }

        return budget is null || period is null || threshold is null ? null : new CostCondition(budget.Value, period, threshold.Value);
    }

    private static string? Text(JsonElement json, params string[] names)
    {
        foreach (var name in names)
        {
            if (json.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
            {
                return value.GetString()!.Trim();
            }
        }

        return null;
    }

    private static double? Number(JsonElement json, params string[] names)
    {
        foreach (var name in names)
        {
            if (json.TryGetProperty(name, out var value))
            {
                if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number))
                {
                    return number;
                }

                if (value.ValueKind == JsonValueKind.String && double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
                {
                    return parsed;
                }

                return double.NaN;
            }
        }

        return null;
    }

    private static string[]? Strings(JsonElement json, params string[] names)
    {
        foreach (var name in names)
        {
            if (json.TryGetProperty(name, out var value))
            {
                return value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(item => item.ValueKind == JsonValueKind.String)
                    ? [.. value.EnumerateArray().Select(item => item.GetString()!)]
                    : [];
            }
        }

        return null;
    }
}

/// <summary>A rule's parsed conditions; <see cref="ToJson"/> is how they are stored and shown.</summary>
internal abstract record Condition
{
    public abstract JsonObject ToJson();
}

internal sealed record ThresholdCondition(string Metric, string Operator, double Threshold, int DurationSec) : Condition
{
    public override JsonObject ToJson() => new() { ["metric"] = Metric, ["operator"] = Operator, ["threshold"] = Threshold, ["duration_sec"] = DurationSec };

    public bool Holds(double value) => Operator switch
    {
        "gt" => value > Threshold,
        "gte" => value >= Threshold,
        "lt" => value < Threshold,
        _ => value <= Threshold,
    };
}

internal sealed record AnomalyCondition(string Metric, double DeviationPercent, int WindowSec) : Condition
{
    public override JsonObject ToJson() => new() { ["metric"] = Metric, ["deviation_percent"] = DeviationPercent, ["window_sec"] = WindowSec };
}

internal sealed record LifecycleCondition(string Event, int TimeoutSec, string[] TargetStatuses) : Condition
{
    public override JsonObject ToJson() => new()
    {
        ["event"] = Event,
        ["timeout_sec"] = TimeoutSec,
        ["target_statuses"] = new JsonArray([.. TargetStatuses.Select(status => (JsonNode)JsonValue.Create(status))]),
    };
}

internal sealed record SecurityCondition(string Check, string SeverityThreshold) : Condition
{
    public override JsonObject ToJson() => new() { ["check"] = Check, ["severity_threshold"] = SeverityThreshold };
}

internal sealed record CostCondition(double BudgetUsd, string Period, double ThresholdPercent) : Condition
{
    public override JsonObject ToJson() => new() { ["budget_usd"] = BudgetUsd, ["period"] = Period, ["threshold_percent"] = ThresholdPercent };
}
