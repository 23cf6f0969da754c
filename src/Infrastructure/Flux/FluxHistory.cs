using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Data;

namespace Capstan.Infrastructure.Flux;

/// <summary>One row of reconciliation history to write.</summary>
public sealed record FluxHistoryEntry
{
    public required Guid ClusterId { get; init; }

    public required string Kind { get; init; }

    public required string Namespace { get; init; }

    public required string Name { get; init; }

    public string? Revision { get; init; }

    public string? PreviousRevision { get; init; }

    /// <summary><c>success</c>, <c>failure</c> or <c>unknown</c>.</summary>
    public required string Status { get; init; }

    public FluxReadiness? Ready { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public required DateTimeOffset CompletedAt { get; init; }

    public JsonNode? SpecSnapshot { get; init; }

    public JsonNode? MetadataSnapshot { get; init; }

    /// <summary><c>automatic</c>, <c>manual</c>, <c>webhook</c> or <c>rollback</c>.</summary>
    public string TriggerType { get; init; } = "automatic";

    public Guid? TriggeredBy { get; init; }

    public string? ErrorMessage { get; init; }

    public string? StalledReason { get; init; }
}

/// <summary>Writes reconciliation history rows (the watcher's and the manual actions').</summary>
public static class FluxHistory
{
    private const string Insert = """
        INSERT INTO gitops.reconciliation_history
            (id, cluster_id, resource_type, namespace, name, revision, previous_revision, status, ready_status, ready_reason, ready_message,
             reconcile_started_at, reconcile_completed_at, duration_ms, spec_snapshot, metadata_snapshot, trigger_type, triggered_by_user,
             error_message, stalled_reason, created_at)
        VALUES
            (@Id, @ClusterId, @Kind, @Namespace, @Name, @Revision, @PreviousRevision, @Status, @ReadyStatus, @ReadyReason, @ReadyMessage,
             @StartedAt, @CompletedAt, @DurationMs, CAST(@Spec AS jsonb), CAST(@Metadata AS jsonb), @TriggerType, @TriggeredBy,
             @ErrorMessage, @StalledReason, now())
        """;

    public static async Task<Guid> RecordAsync(DbSession db, FluxHistoryEntry entry, CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        await db.ExecuteAsync(
            Insert,
            new
            {
                Id = id,
                entry.ClusterId,
                entry.Kind,
                entry.Namespace,
                entry.Name,
                entry.Revision,
                entry.PreviousRevision,
                entry.Status,
                ReadyStatus = entry.Ready?.Status,
                ReadyReason = entry.Ready?.Reason,
                ReadyMessage = entry.Ready?.Message,
                StartedAt = entry.StartedAt?.UtcDateTime,
                CompletedAt = entry.CompletedAt.UtcDateTime,
                DurationMs = entry.StartedAt is { } started ? (long?)(entry.CompletedAt - started).TotalMilliseconds : null,
                Spec = entry.SpecSnapshot?.ToJsonString(),
                Metadata = entry.MetadataSnapshot?.ToJsonString(),
                entry.TriggerType,
                entry.TriggeredBy,
                entry.ErrorMessage,
                entry.StalledReason,
            },
            cancellationToken);
        return id;
    }

    /// <summary>The labels and annotations of an object, as history keeps them.</summary>
    public static JsonObject MetadataSnapshot(JsonObject obj) => new()
    {
        ["labels"] = obj["metadata"]?["labels"]?.DeepClone() ?? new JsonObject(),
        ["annotations"] = obj["metadata"]?["annotations"]?.DeepClone() ?? new JsonObject(),
    };

    /// <summary>A history status from a Ready condition status.</summary>
    public static string StatusOf(FluxReadiness? ready) => ready?.Status switch
    {
        "True" => "success",
        "False" => "failure",
        _ => "unknown",
    };

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
}
