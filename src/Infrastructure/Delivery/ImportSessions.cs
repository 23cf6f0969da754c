using System.Text.Json.Nodes;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;

namespace Capstan.Infrastructure.Delivery;

public sealed class ImportSessionRow
{
    public Guid Id { get; init; }

    public Guid UserId { get; init; }

    public string Source { get; init; } = string.Empty;

    public string Url { get; init; } = string.Empty;

    public string Branch { get; init; } = string.Empty;

    public string FileName { get; init; } = string.Empty;

    public string Namespace { get; init; } = string.Empty;

    public Guid? WorkflowId { get; init; }

    public string Status { get; init; } = string.Empty;

    public string CurrentStage { get; init; } = string.Empty;

    public long Progress { get; init; }

    public string? Analysis { get; init; }

    public string Logs { get; init; } = "[]";

    public string? ErrorMessage { get; init; }

    public string? ErrorStage { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime? CompletedAt { get; init; }

    public bool IsTerminal => Status is "completed" or "failed";
}

/// <summary>An import session as KubeOrch's clients read it (camelCase, reference §2 <c>import_sessions</c>).</summary>
public sealed record ImportSessionView(
    Guid Id,
    Guid UserId,
    string Source,
    string Url,
    string Branch,
    string FileName,
    string Namespace,
    Guid? WorkflowId,
    string Status,
    string CurrentStage,
    long Progress,
    JsonNode? Analysis,
    JsonNode? Logs,
    string? ErrorMessage,
    string? ErrorStage,
    DateTime CreatedAt,
    DateTime? CompletedAt);

/// <summary>Import sessions of a user, and the progress a background import records and publishes.</summary>
public static class ImportSessions
{
    public const string Columns = """
        s.id, s.user_id, s.source, s.url, s.branch, s.file_name, s.namespace, s.workflow_id, s.status, s.current_stage, s.progress,
        s.analysis::text AS analysis, s.logs::text AS logs, s.error_message, s.error_stage, s.created_at, s.completed_at
        """;

    public static async Task<ImportSessionRow> GetOwnedAsync(DbSession db, Guid id, Guid userId, CancellationToken cancellationToken) =>
        await db.QuerySingleOrDefaultAsync<ImportSessionRow>(
            $"SELECT {Columns} FROM delivery.import_sessions s WHERE s.id = @Id AND s.user_id = @UserId",
            new { Id = id, UserId = userId },
            cancellationToken)
        ?? throw new NotFoundException("Import session not found");

    public static ImportSessionView View(ImportSessionRow row) => new(
        row.Id, row.UserId, row.Source, row.Url, row.Branch, row.FileName, row.Namespace, row.WorkflowId, row.Status, row.CurrentStage, row.Progress,
        row.Analysis is null ? null : JsonNode.Parse(row.Analysis), JsonNode.Parse(row.Logs), row.ErrorMessage, row.ErrorStage, row.CreatedAt, row.CompletedAt);

    /// <summary>Records a step (status, stage, progress and a log line) and publishes <c>progress</c> and <c>log</c>.</summary>
    public static async Task ProgressAsync(DbSession db, EventHub hub, Guid id, string status, string stage, long progress, string message, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var entry = new JsonObject { ["stage"] = stage, ["message"] = message, ["level"] = "info", ["timestamp"] = now.UtcDateTime.ToString("O") };
        await db.ExecuteAsync(
            """
            UPDATE delivery.import_sessions SET status = @Status, current_stage = @Stage, progress = @Progress,
                logs = logs || jsonb_build_array(CAST(@Entry AS jsonb)), updated_at = now()
            WHERE id = @Id
            """,
            new { Id = id, Status = status, Stage = stage, Progress = progress, Entry = entry.ToJsonString() },
            cancellationToken);
        var topic = DeliveryEvents.ImportTopic(id);
        await hub.PublishAsync(topic, DeliveryEvents.Frame("import", id, "progress", new JsonObject { ["status"] = status, ["current_stage"] = stage, ["progress"] = progress }, now), cancellationToken);
        await hub.PublishAsync(topic, DeliveryEvents.Frame("import", id, "log", new JsonObject { ["stage"] = stage, ["message"] = message, ["level"] = "info" }, now), cancellationToken);
    }

    public static async Task CompleteAsync(DbSession db, EventHub hub, Guid id, JsonObject analysis, CancellationToken cancellationToken)
    {
        await db.ExecuteAsync(
            """
            UPDATE delivery.import_sessions SET status = 'completed', current_stage = 'completed', progress = 100, analysis = CAST(@Analysis AS jsonb),
                completed_at = now(), updated_at = now()
            WHERE id = @Id
            """,
            new { Id = id, Analysis = analysis.ToJsonString() },
            cancellationToken);
        await hub.PublishAsync(DeliveryEvents.ImportTopic(id), DeliveryEvents.Frame("import", id, "complete", new JsonObject { ["analysis"] = analysis }, DateTimeOffset.UtcNow), cancellationToken);
    }

    public static async Task FailAsync(DbSession db, EventHub hub, Guid id, string stage, string error, CancellationToken cancellationToken)
    {
        await db.ExecuteAsync(
            """
            UPDATE delivery.import_sessions SET status = 'failed', error_message = @Error, error_stage = @Stage, completed_at = now(), updated_at = now()
            WHERE id = @Id
            """,
            new { Id = id, Error = error, Stage = stage },
            cancellationToken);
        await hub.PublishAsync(DeliveryEvents.ImportTopic(id), DeliveryEvents.Frame("import", id, "failed", new JsonObject { ["error"] = error, ["stage"] = stage }, DateTimeOffset.UtcNow), cancellationToken);
    }
}
