namespace Capstan.Features.Fleet.Tasks;

/// <summary>A scheduled task as seed 004's clients read it (reference sindri.md §8.12).</summary>
public sealed record TaskView
{
    /// <summary>Tasks aliased <c>t</c>.</summary>
    public const string Columns = """
        t.id, t.name, t.description, t.cron, t.timezone, t.command, t.instance_id, t.status, t.template, t.timeout_sec, t.max_retries, t.notify_on_failure,
        t.notify_on_success, t.notify_emails, t.last_run_at, t.next_run_at, t.created_at, t.updated_at, t.created_by
        """;

    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string? Description { get; init; }

    public string Cron { get; init; } = string.Empty;

    public string Timezone { get; init; } = string.Empty;

    public string Command { get; init; } = string.Empty;

    public Guid? InstanceId { get; init; }

    public string Status { get; init; } = string.Empty;

    public string? Template { get; init; }

    public long TimeoutSec { get; init; }

    public long MaxRetries { get; init; }

    public bool NotifyOnFailure { get; init; }

    public bool NotifyOnSuccess { get; init; }

    public string[] NotifyEmails { get; init; } = [];

    public DateTime? LastRunAt { get; init; }

    public DateTime? NextRunAt { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    public Guid? CreatedBy { get; init; }
}

/// <summary>One run of a task on one instance. Its outcome is the dispatched command's: RUNNING while it runs, SUCCESS
/// on exit 0, FAILED otherwise, TIMED_OUT when the agent did not answer in time; SKIPPED when it could not be dispatched
/// (the reason in <c>stderr</c>).</summary>
public sealed record TaskExecutionView(
    Guid Id,
    Guid TaskId,
    Guid? InstanceId,
    string? InstanceName,
    string Status,
    long? ExitCode,
    string? Stdout,
    string? Stderr,
    DateTime StartedAt,
    DateTime? FinishedAt,
    long? DurationMs,
    string TriggeredBy,
    long Attempt,
    DateTime? ScheduledFor,
    Guid? CommandExecutionId)
{
    /// <summary>Executions aliased <c>x</c>, left-joined to their command <c>c</c> and instance <c>i</c>.</summary>
    public const string From = """
        fleet.task_executions x
        LEFT JOIN fleet.command_executions c ON c.id = x.command_execution_id
        LEFT JOIN fleet.instances i ON i.id = x.instance_id
        """;

    public const string StatusExpression = """
        CASE WHEN x.command_execution_id IS NULL THEN x.status
             ELSE CASE c.status WHEN 'SUCCEEDED' THEN 'SUCCESS' WHEN 'FAILED' THEN 'FAILED' WHEN 'TIMEOUT' THEN 'TIMED_OUT' WHEN 'PENDING' THEN 'PENDING' ELSE 'RUNNING' END
        END
        """;

    public const string Columns = $"""
        x.id, x.task_id, x.instance_id, i.name AS instance_name, {StatusExpression} AS status, c.exit_code, c.stdout, COALESCE(c.stderr, x.stderr) AS stderr,
        x.started_at, COALESCE(c.completed_at, CASE WHEN x.command_execution_id IS NULL THEN x.started_at END) AS finished_at, c.duration_ms, x.triggered_by,
        x.attempt, x.scheduled_for, x.command_execution_id
        """;
}

/// <summary>The fixed task templates (reference sindri.md §8.12).</summary>
public static class TaskTemplates
{
    public sealed record Template(string Key, string Name, string Description, string Cron, string Command, long TimeoutSec, string Category);

    public static readonly IReadOnlyList<Template> All =
    [
        new("daily-backup", "Daily backup", "Back up the workspace every night at 02:00", "0 2 * * *", "sindri backup create --compress", 600, "Maintenance"),
        new("weekly-updates", "Weekly updates", "Update system packages every Sunday at 03:00", "0 3 * * 0", "sindri system update", 1800, "Maintenance"),
        new("disk-cleanup", "Disk cleanup", "Remove caches and temporary files every night at 04:00", "0 4 * * *", "sindri system cleanup", 300, "Maintenance"),
        new("health-check", "Health check", "Check the instance's health every 15 minutes", "*/15 * * * *", "sindri doctor --json", 60, "Monitoring"),
        new("extension-update", "Extension update", "Upgrade installed extensions every Monday at 04:00", "0 4 * * 1", "sindri extension upgrade --all", 600, "Extensions"),
    ];
}
