using System.Text.Json;

namespace Capstan.Features.Fleet.Commands;

/// <summary>A command execution as seed 004's clients read it (reference sindri.md §8.7). <c>env</c> shows the names
/// only: values went to the agent and are not kept. <c>correlationId</c> is the id the agent answers with.</summary>
public sealed record ExecutionView(
    Guid Id,
    Guid InstanceId,
    string? InstanceName,
    Guid? UserId,
    Guid? BatchId,
    string Command,
    string[] Args,
    JsonElement Env,
    string? WorkingDir,
    long TimeoutMs,
    string Status,
    long? ExitCode,
    string? Stdout,
    string? Stderr,
    long? DurationMs,
    Guid CorrelationId,
    bool HasScript,
    DateTime CreatedAt,
    DateTime? DispatchedAt,
    DateTime? CompletedAt);

/// <summary>An execution row as <see cref="Columns"/> selects it.</summary>
internal sealed record ExecutionRow
{
    public const string Columns = """
        c.id, c.instance_id, i.name AS instance_name, c.user_id, c.batch_id, c.command, c.args, c.env::text AS env, c.working_dir,
        c.timeout_ms, c.status, c.exit_code, c.stdout, c.stderr, c.duration_ms, (c.script_content IS NOT NULL) AS has_script,
        c.created_at, c.dispatched_at, c.completed_at
        """;

    public Guid Id { get; init; }

    public Guid InstanceId { get; init; }

    public string? InstanceName { get; init; }

    public Guid? UserId { get; init; }

    public Guid? BatchId { get; init; }

    public string Command { get; init; } = string.Empty;

    public string[] Args { get; init; } = [];

    public string Env { get; init; } = "{}";

    public string? WorkingDir { get; init; }

    public long TimeoutMs { get; init; }

    public string Status { get; init; } = string.Empty;

    public long? ExitCode { get; init; }

    public string? Stdout { get; init; }

    public string? Stderr { get; init; }

    public long? DurationMs { get; init; }

    public bool HasScript { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime? DispatchedAt { get; init; }

    public DateTime? CompletedAt { get; init; }

    public bool IsFinished => Status is "SUCCEEDED" or "FAILED" or "TIMEOUT";

    public ExecutionView ToView() => new(
        Id, InstanceId, InstanceName, UserId, BatchId, Command, Args, FleetVocabulary.JsonOrEmpty(Env), WorkingDir, TimeoutMs, Status, ExitCode,
        Stdout, Stderr, DurationMs, Id, HasScript, CreatedAt, DispatchedAt, CompletedAt);
}
