using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Fleet.Tasks;

/// <summary>
/// Runs due scheduled tasks every <c>Fleet:Tasks:TickSeconds</c> (30). Each tick holds the job's PostgreSQL advisory
/// lock, so with many replicas one of them ticks; due tasks are also claimed row by row (<c>FOR UPDATE SKIP LOCKED</c>,
/// next run moved forward in the same transaction as the dispatch), so a run happens once even if two ticks overlap.
/// A task due several times while nobody ticked runs once and is rescheduled from now. Failed or timed-out runs are
/// retried on the next tick while their attempt is within the task's <c>maxRetries</c>.
/// </summary>
public sealed class TaskSchedulerJob(IServiceProvider services, ILogger<TaskSchedulerJob> logger) : RecurringJob(services, logger)
{
    public sealed record Outcome(int Due, int Runs, int Retries);

    private const string Due = $"""
        SELECT {TaskRunner.TaskColumns} FROM fleet.scheduled_tasks t
        WHERE t.status = 'ACTIVE' AND t.next_run_at <= @Now
        ORDER BY t.next_run_at, t.id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
        """;

    private const string Reschedule = "UPDATE fleet.scheduled_tasks SET next_run_at = @Next WHERE id = @Id";

    private const string Retryable = $"""
        SELECT x.id, x.task_id, x.instance_id, x.attempt, x.scheduled_for
        FROM {TaskExecutionView.From}
        JOIN fleet.scheduled_tasks t ON t.id = x.task_id
        WHERE t.status = 'ACTIVE' AND x.instance_id IS NOT NULL AND x.attempt <= t.max_retries AND x.started_at > @Since
          AND ({TaskExecutionView.StatusExpression}) IN ('FAILED', 'TIMED_OUT')
          AND NOT EXISTS (SELECT 1 FROM fleet.task_executions y WHERE y.task_id = x.task_id AND y.instance_id = x.instance_id AND y.attempt = x.attempt + 1
                          AND y.started_at >= x.started_at)
        ORDER BY x.started_at
        LIMIT 100
        """;

    private readonly TimeSpan _interval = TimeSpan.FromSeconds(Math.Max(1, services.GetRequiredService<IConfiguration>().GetValue("Fleet:Tasks:TickSeconds", 30)));
    private readonly ILogger _logger = logger;

    public override string Name => "fleet-task-scheduler";

    public override TimeSpan Interval => _interval;

    protected override TimeSpan FirstRunDelay => TimeSpan.FromSeconds(10);

    /// <summary>What the last tick did (for logs and tests).</summary>
    internal Outcome? LastOutcome { get; private set; }

    public override async Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        var outcome = await TickAsync(scope.GetRequiredService<DbSession>(), scope.GetRequiredService<EventHub>(), scope.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime, cancellationToken);
        LastOutcome = outcome;
        if (outcome.Runs + outcome.Retries > 0)
        {
            _logger.LogInformation("Task scheduler: {Due} tasks due, {Runs} runs dispatched, {Retries} retries", outcome.Due, outcome.Runs, outcome.Retries);
        }
    }

    /// <summary>One tick: every due task, one transaction each, then the retries.</summary>
    internal static async Task<Outcome> TickAsync(DbSession db, EventHub hub, DateTime now, CancellationToken cancellationToken)
    {
        int due = 0, runs = 0, retries = 0;
        while (true)
        {
            await db.BeginAsync(cancellationToken);
            try
            {
                var task = await db.QuerySingleOrDefaultAsync<TaskRunner.TaskRow>(Due, new { Now = now }, cancellationToken);
                if (task is null)
                {
                    await db.CommitAsync(cancellationToken);
                    break;
                }

                due++;
                await db.ExecuteAsync(Reschedule, new { task.Id, Next = TaskSchedule.Next(task.Cron, task.Timezone, now) }, cancellationToken);
                runs += (await TaskRunner.DispatchAsync(db, hub, task, null, "scheduler", 1, task.NextRunAt, now, cancellationToken)).Count;
                await db.CommitAsync(cancellationToken);
            }
            catch
            {
                await db.RollbackAsync();
                throw;
            }
        }

        foreach (var failed in await db.QueryAsync<FailedRow>(Retryable, new { Since = now.AddDays(-1) }, cancellationToken))
        {
            await db.BeginAsync(cancellationToken);
            try
            {
                var task = await db.QuerySingleAsync<TaskRunner.TaskRow>($"SELECT {TaskRunner.TaskColumns} FROM fleet.scheduled_tasks t WHERE t.id = @TaskId", failed, cancellationToken);
                retries += (await TaskRunner.DispatchAsync(db, hub, task, null, "retry", failed.Attempt + 1, failed.ScheduledFor, now, cancellationToken, [failed.InstanceId])).Count;
                await db.CommitAsync(cancellationToken);
            }
            catch
            {
                await db.RollbackAsync();
                throw;
            }
        }

        return new Outcome(due, runs, retries);
    }

    private sealed record FailedRow
    {
        public Guid Id { get; init; }

        public Guid TaskId { get; init; }

        public Guid InstanceId { get; init; }

        public long Attempt { get; init; }

        public DateTime? ScheduledFor { get; init; }
    }
}
