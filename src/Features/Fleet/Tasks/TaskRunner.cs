using Capstan.Features.Fleet.Commands;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;

namespace Capstan.Features.Fleet.Tasks;

/// <summary>
/// Dispatches one run of a task, inside the caller's transaction: to the task's instance, or to every RUNNING instance
/// when it has none, as a fleet command (<c>/bin/sh -c &lt;command&gt;</c>, timeout = the task's <c>timeoutSec</c>)
/// recorded in the command history. Each target gets an execution row; a target whose agent is not connected gets a
/// SKIPPED one saying so.
/// </summary>
internal static class TaskRunner
{
    public sealed record TaskRow
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Cron { get; init; } = string.Empty;

        public string Timezone { get; init; } = "UTC";

        public string Command { get; init; } = string.Empty;

        public Guid? InstanceId { get; init; }

        public string Status { get; init; } = string.Empty;

        public long TimeoutSec { get; init; }

        public long MaxRetries { get; init; }

        public DateTime? NextRunAt { get; init; }

        public Guid? CreatedBy { get; init; }
    }

    public sealed record Run(Guid ExecutionId, Guid InstanceId, string? InstanceName, bool Dispatched, int Status, string? Error);

    public const string TaskColumns = "t.id, t.name, t.cron, t.timezone, t.command, t.instance_id, t.status, t.timeout_sec, t.max_retries, t.next_run_at, t.created_by";

    private const string Running = "SELECT id FROM fleet.instances WHERE status = 'RUNNING' ORDER BY name, id";

    private const string Insert = """
        INSERT INTO fleet.task_executions (id, task_id, instance_id, command_execution_id, status, attempt, stderr, scheduled_for, started_at, triggered_by)
        VALUES (@Id, @TaskId, @InstanceId, @CommandExecutionId, @Status, @Attempt, @Stderr, @ScheduledFor, @Now, @TriggeredBy)
        """;

    private const string Ran = "UPDATE fleet.scheduled_tasks SET last_run_at = @Now WHERE id = @Id";

    public static async Task<List<Run>> DispatchAsync(
        DbSession db, EventHub hub, TaskRow task, Guid? userId, string triggeredBy, long attempt, DateTime? scheduledFor, DateTime now, CancellationToken cancellationToken,
        IReadOnlyList<Guid>? only = null)
    {
        var targets = only ?? (task.InstanceId is { } instance ? [instance] : await db.QueryAsync<Guid>(Running, null, cancellationToken));
        var spec = new CommandDispatch.Spec("/bin/sh", ["-c", task.Command], new Dictionary<string, string>(), null, (int)Math.Min(task.TimeoutSec * 1000, int.MaxValue), null, null);
        var runs = new List<Run>();
        if (targets.Count == 0)
        {
            return runs;
        }

        var dispatched = await CommandDispatch.DispatchAsync(db, hub, new FleetVisibility.TeamScope(true, []), targets, userId ?? task.CreatedBy, null, spec, now, cancellationToken);
        foreach (var target in dispatched.Where(target => target.Status != 404))
        {
            var id = Guid.CreateVersion7();
            await db.ExecuteAsync(
                Insert,
                new
                {
                    Id = id,
                    TaskId = task.Id,
                    target.InstanceId,
                    CommandExecutionId = target.ExecutionId,
                    Status = target.ExecutionId is null ? "SKIPPED" : "RUNNING",
                    Attempt = attempt,
                    Stderr = target.Error,
                    ScheduledFor = scheduledFor,
                    Now = now,
                    TriggeredBy = triggeredBy,
                },
                cancellationToken);
            runs.Add(new Run(id, target.InstanceId, target.Name, target.ExecutionId is not null, target.Status, target.Error));
        }

        await db.ExecuteAsync(Ran, new { task.Id, Now = now }, cancellationToken);
        return runs;
    }
}
