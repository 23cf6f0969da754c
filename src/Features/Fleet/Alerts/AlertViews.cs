using System.Text.Json;

namespace Capstan.Features.Fleet.Alerts;

/// <summary>An alert as seed 004's clients read it (reference sindri.md §8.6).</summary>
public sealed record AlertView(
    Guid Id,
    Guid RuleId,
    Guid? InstanceId,
    string? InstanceName,
    string Status,
    string Severity,
    string Title,
    string Message,
    JsonElement Metadata,
    DateTime FiredAt,
    DateTime? AcknowledgedAt,
    string? AcknowledgedBy,
    DateTime? ResolvedAt,
    string? ResolvedBy,
    string DedupeKey,
    AlertRuleRef? Rule,
    long NotificationCount);

public sealed record AlertRuleRef(Guid Id, string Name, string Type, string Severity);

/// <summary>An alert row as <see cref="Columns"/> selects it (alias <c>a</c>, rule <c>r</c>, instance <c>i</c>).</summary>
internal sealed record AlertRow
{
    public const string From = """
        FROM fleet.alerts a
        JOIN fleet.alert_rules r ON r.id = a.rule_id
        LEFT JOIN fleet.instances i ON i.id = a.instance_id
        """;

    public const string Columns = """
        a.id, a.rule_id, a.instance_id, i.name AS instance_name, a.status, a.severity, a.title, a.message, a.metadata::text AS metadata,
        a.fired_at, a.acknowledged_at, a.acknowledged_by, a.resolved_at, a.resolved_by, a.dedupe_key,
        r.name AS rule_name, r.type AS rule_type, r.severity AS rule_severity,
        (SELECT count(*) FROM fleet.alert_notifications n WHERE n.alert_id = a.id) AS notification_count
        """;

    public Guid Id { get; init; }

    public Guid RuleId { get; init; }

    public Guid? InstanceId { get; init; }

    public string? InstanceName { get; init; }

    public string Status { get; init; } = string.Empty;

    public string Severity { get; init; } = string.Empty;

    public string Title { get; init; } = string.Empty;

    public string Message { get; init; } = string.Empty;

    public string Metadata { get; init; } = "{}";

    public DateTime FiredAt { get; init; }

    public DateTime? AcknowledgedAt { get; init; }

    public string? AcknowledgedBy { get; init; }

    public DateTime? ResolvedAt { get; init; }

    public string? ResolvedBy { get; init; }

    public string DedupeKey { get; init; } = string.Empty;

    public string RuleName { get; init; } = string.Empty;

    public string RuleType { get; init; } = string.Empty;

    public string RuleSeverity { get; init; } = string.Empty;

    public long NotificationCount { get; init; }

    public AlertView ToView() => new(
        Id, RuleId, InstanceId, InstanceName, Status, Severity, Title, Message, FleetVocabulary.JsonOrEmpty(Metadata), FiredAt, AcknowledgedAt,
        AcknowledgedBy, ResolvedAt, ResolvedBy, DedupeKey, new AlertRuleRef(RuleId, RuleName, RuleType, RuleSeverity), NotificationCount);
}

/// <summary>An alert rule as seed 004's clients read it.</summary>
public sealed record RuleView(
    Guid Id,
    string Name,
    string? Description,
    string Type,
    string Severity,
    bool Enabled,
    Guid? InstanceId,
    JsonElement Conditions,
    long CooldownSec,
    Guid? CreatedBy,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    IReadOnlyList<ChannelRef> Channels,
    long AlertCount,
    long OpenAlertCount);

public sealed record ChannelRef(Guid Id, string Name, string Type);

/// <summary>A rule row as <see cref="Columns"/> selects it (alias <c>r</c>).</summary>
internal sealed record RuleRow
{
    public const string Columns = """
        r.id, r.name, r.description, r.type, r.severity, r.enabled, r.instance_id, r.conditions::text AS conditions, r.cooldown_sec,
        r.created_by, r.created_at, r.updated_at,
        COALESCE((SELECT jsonb_agg(jsonb_build_object('id', c.id, 'name', c.name, 'type', c.type) ORDER BY c.name)
                  FROM fleet.alert_rule_channels rc JOIN fleet.notification_channels c ON c.id = rc.channel_id
                  WHERE rc.rule_id = r.id), '[]')::text AS channels,
        (SELECT count(*) FROM fleet.alerts a WHERE a.rule_id = r.id) AS alert_count,
        (SELECT count(*) FROM fleet.alerts a WHERE a.rule_id = r.id AND a.status IN ('ACTIVE', 'ACKNOWLEDGED')) AS open_alert_count
        """;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string? Description { get; init; }

    public string Type { get; init; } = string.Empty;

    public string Severity { get; init; } = string.Empty;

    public bool Enabled { get; init; }

    public Guid? InstanceId { get; init; }

    public string Conditions { get; init; } = "{}";

    public long CooldownSec { get; init; }

    public Guid? CreatedBy { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    public string Channels { get; init; } = "[]";

    public long AlertCount { get; init; }

    public long OpenAlertCount { get; init; }

    public RuleView ToView() => new(
        Id, Name, Description, Type, Severity, Enabled, InstanceId, FleetVocabulary.JsonOrEmpty(Conditions), CooldownSec, CreatedBy, CreatedAt, UpdatedAt,
        JsonSerializer.Deserialize<List<ChannelRef>>(Channels, Json) ?? [], AlertCount, OpenAlertCount);
}

/// <summary>A notification channel as seed 004's clients read it; <c>config</c> is masked.</summary>
public sealed record ChannelView(
    Guid Id, string Name, string Type, JsonElement Config, bool Enabled, Guid? CreatedBy, DateTime CreatedAt, DateTime UpdatedAt, long RuleCount);

/// <summary>A channel row as <see cref="Columns"/> selects it (alias <c>c</c>).</summary>
internal sealed record ChannelRow
{
    public const string Columns = """
        c.id, c.name, c.type, c.config_masked::text AS config_masked, c.enabled, c.created_by, c.created_at, c.updated_at,
        (SELECT count(*) FROM fleet.alert_rule_channels rc WHERE rc.channel_id = c.id) AS rule_count
        """;

    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string Type { get; init; } = string.Empty;

    public string ConfigMasked { get; init; } = "{}";

    public bool Enabled { get; init; }

    public Guid? CreatedBy { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    public long RuleCount { get; init; }

    public ChannelView ToView() => new(Id, Name, Type, FleetVocabulary.JsonOrEmpty(ConfigMasked), Enabled, CreatedBy, CreatedAt, UpdatedAt, RuleCount);
}
