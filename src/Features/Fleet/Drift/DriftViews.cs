using System.Text.Json;

namespace Capstan.Features.Fleet.Drift;

/// <summary>A snapshot in lists (reference sindri.md §8.10), camelCase as the upstream web client reads it.</summary>
public sealed record SnapshotView(
    Guid Id, Guid InstanceId, string InstanceName, DateTime TakenAt, string ConfigHash, string DriftStatus, string? Error, string TriggeredBy, long DriftEventCount, long UnresolvedCount)
{
    /// <summary>Snapshots aliased <c>s</c> joined to instances <c>i</c>.</summary>
    public const string Columns = """
        s.id, s.instance_id, i.name AS instance_name, s.taken_at, s.config_hash, s.drift_status, s.error, s.triggered_by,
        (SELECT count(*) FROM fleet.drift_events e WHERE e.snapshot_id = s.id) AS drift_event_count,
        (SELECT count(*) FROM fleet.drift_events e WHERE e.snapshot_id = s.id AND e.resolved_at IS NULL) AS unresolved_count
        """;
}

/// <summary>A snapshot with both configurations and its events.</summary>
public sealed record SnapshotDetail(
    Guid Id, Guid InstanceId, string InstanceName, DateTime TakenAt, string ConfigHash, string DriftStatus, string? Error, string TriggeredBy, long DriftEventCount,
    long UnresolvedCount, JsonElement Declared, JsonElement Actual, IReadOnlyList<DriftEventView> DriftEvents);

/// <summary>One drifted field, with its suggested fix and the remediation made of it, if any.</summary>
public sealed record DriftEventView(
    Guid Id, Guid SnapshotId, Guid InstanceId, string InstanceName, DateTime DetectedAt, string FieldPath, string? DeclaredVal, string? ActualVal, string Severity,
    string Description, string RemediationAction, string? RemediationCommand, bool Resolved, DateTime? ResolvedAt, string? ResolvedBy, RemediationView? Remediation);

/// <summary>A remediation: the command run on the instance to undo a drift, and how it went.</summary>
public sealed record RemediationView(
    Guid Id, Guid DriftEventId, Guid InstanceId, string Action, string? Command, string Status, Guid? CommandExecutionId, Guid? TriggeredBy, DateTime CreatedAt,
    DateTime? StartedAt, DateTime? CompletedAt, string? Output, string? Error)
{
    public const string Columns = """
        r.id, r.drift_event_id, r.instance_id, r.action, r.command, r.status, r.command_execution_id, r.triggered_by, r.created_at, r.started_at, r.completed_at,
        r.output, r.error
        """;
}

/// <summary>Reads events with their remediations, and snapshot details.</summary>
internal static class DriftRows
{
    /// <summary>Events aliased <c>e</c> joined to instances <c>i</c> and (left) remediations <c>r</c>.</summary>
    public const string EventFrom = """
        fleet.drift_events e
        JOIN fleet.instances i ON i.id = e.instance_id
        LEFT JOIN fleet.drift_remediations r ON r.drift_event_id = e.id
        """;

    public const string EventColumns = """
        e.id, e.snapshot_id, e.instance_id, i.name AS instance_name, e.detected_at, e.field_path, e.declared_val, e.actual_val, e.severity, e.description,
        e.remediation_action, e.remediation_command, e.resolved_at, e.resolved_by,
        r.id AS r_id, r.action AS r_action, r.command AS r_command, r.status AS r_status, r.command_execution_id AS r_command_execution_id,
        r.triggered_by AS r_triggered_by, r.created_at AS r_created_at, r.started_at AS r_started_at, r.completed_at AS r_completed_at, r.output AS r_output, r.error AS r_error
        """;

    internal sealed record EventRow
    {
        public Guid Id { get; init; }

        public Guid SnapshotId { get; init; }

        public Guid InstanceId { get; init; }

        public string InstanceName { get; init; } = string.Empty;

        public DateTime DetectedAt { get; init; }

        public string FieldPath { get; init; } = string.Empty;

        public string? DeclaredVal { get; init; }

        public string? ActualVal { get; init; }

        public string Severity { get; init; } = string.Empty;

        public string Description { get; init; } = string.Empty;

        public string RemediationAction { get; init; } = string.Empty;

        public string? RemediationCommand { get; init; }

        public DateTime? ResolvedAt { get; init; }

        public string? ResolvedBy { get; init; }

        public Guid? RId { get; init; }

        public string? RAction { get; init; }

        public string? RCommand { get; init; }

        public string? RStatus { get; init; }

        public Guid? RCommandExecutionId { get; init; }

        public Guid? RTriggeredBy { get; init; }

        public DateTime? RCreatedAt { get; init; }

        public DateTime? RStartedAt { get; init; }

        public DateTime? RCompletedAt { get; init; }

        public string? ROutput { get; init; }

        public string? RError { get; init; }

        public DriftEventView ToView() => new(
            Id, SnapshotId, InstanceId, InstanceName, DetectedAt, FieldPath, DeclaredVal, ActualVal, Severity, Description, RemediationAction, RemediationCommand,
            ResolvedAt is not null, ResolvedAt, ResolvedBy,
            RId is { } remediation
                ? new RemediationView(remediation, Id, InstanceId, RAction!, RCommand, RStatus!, RCommandExecutionId, RTriggeredBy, RCreatedAt!.Value, RStartedAt, RCompletedAt, ROutput, RError)
                : null);
    }

    internal sealed record SnapshotRow
    {
        public Guid Id { get; init; }

        public Guid InstanceId { get; init; }

        public string InstanceName { get; init; } = string.Empty;

        public DateTime TakenAt { get; init; }

        public string ConfigHash { get; init; } = string.Empty;

        public string DriftStatus { get; init; } = string.Empty;

        public string? Error { get; init; }

        public string TriggeredBy { get; init; } = string.Empty;

        public long DriftEventCount { get; init; }

        public long UnresolvedCount { get; init; }

        public string Declared { get; init; } = "{}";

        public string Actual { get; init; } = "{}";

        public SnapshotDetail ToDetail(IReadOnlyList<DriftEventView> events) => new(
            Id, InstanceId, InstanceName, TakenAt, ConfigHash, DriftStatus, Error, TriggeredBy, DriftEventCount, UnresolvedCount,
            JsonDocument.Parse(Declared).RootElement.Clone(), JsonDocument.Parse(Actual).RootElement.Clone(), events);
    }

    public const string SnapshotColumns = $"{SnapshotView.Columns}, s.declared::text AS declared, s.actual::text AS actual";
}
