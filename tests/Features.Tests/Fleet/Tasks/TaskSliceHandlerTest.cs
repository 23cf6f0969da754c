namespace Capstan.Features.Tests.Fleet.Tasks;

/// <summary>Arrange-helpers of the task slices' handler tests: instances (online or not, of a team or none), scheduled
/// tasks, their runs and the commands those dispatched, written straight to the database.</summary>
public abstract class TaskSliceHandlerTest(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    /// <summary>A team the test callers are not in.</summary>
    protected static readonly Guid OtherTeam = Guid.CreateVersion7();

    protected async Task<Guid> TaskInstanceAsync(string name, bool online = false, Guid? team = null, string status = "RUNNING")
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.instances (id, name, provider, status, team_id, agent_connection_id, agent_connected_at)
            VALUES (@Id, @Name, 'fly', @Status, @Team, CASE WHEN @Online THEN platform.uuid_v7() END, CASE WHEN @Online THEN now() END)
            """,
            new { Id = id, Name = name, Status = status, Team = team, Online = online });
        return id;
    }

    protected async Task<Guid> ScheduledTaskAsync(
        string name, Guid? instance = null, string status = "ACTIVE", string cron = "*/5 * * * *", DateTime? createdAt = null, DateTime? nextRunAt = null, long timeoutSec = 300)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.scheduled_tasks (id, name, cron, command, instance_id, status, timeout_sec, next_run_at, created_at, updated_at)
            VALUES (@Id, @Name, @Cron, 'echo ' || @Name, @Instance, @Status, @Timeout, @Next, COALESCE(@CreatedAt, now()), COALESCE(@CreatedAt, now()))
            """,
            new { Id = id, Name = name, Cron = cron, Instance = instance, Status = status, Timeout = timeoutSec, Next = nextRunAt, CreatedAt = createdAt });
        return id;
    }

    /// <summary>A command execution of <paramref name="instance"/> in <paramref name="status"/>, completed 5 s after it started unless RUNNING.</summary>
    protected async Task<Guid> CommandAsync(Guid instance, DateTime startedAt, string status, long? exitCode = null, string? stdout = null, string? stderr = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.command_executions (id, instance_id, command, args, timeout_ms, status, exit_code, stdout, stderr, duration_ms, created_at, dispatched_at, completed_at)
            VALUES (@Id, @Instance, '/bin/sh', '{-c,echo}', 300000, @Status, @ExitCode, @Stdout, @Stderr, CASE WHEN @Status = 'RUNNING' THEN NULL ELSE 5000 END,
                    @StartedAt, @StartedAt, CASE WHEN @Status = 'RUNNING' THEN NULL ELSE @StartedAt + interval '5 seconds' END)
            """,
            new { Id = id, Instance = instance, Status = status, ExitCode = exitCode, Stdout = stdout, Stderr = stderr, StartedAt = startedAt });
        return id;
    }

    protected async Task<Guid> RunAsync(Guid task, Guid? instance, DateTime startedAt, Guid? command = null, string status = "RUNNING", string? stderr = null, string triggeredBy = "scheduler")
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.task_executions (id, task_id, instance_id, command_execution_id, status, stderr, started_at, triggered_by)
            VALUES (@Id, @Task, @Instance, @Command, @Status, @Stderr, @StartedAt, @TriggeredBy)
            """,
            new { Id = id, Task = task, Instance = instance, Command = command, Status = status, Stderr = stderr, StartedAt = startedAt, TriggeredBy = triggeredBy });
        return id;
    }

    /// <summary>The audit rows of <paramref name="action"/>, as "resource_type resource_id resource_name".</summary>
    protected Task<List<string>> AuditAsync(string action) =>
        Fixture.QueryAsync<string>(
            "SELECT concat_ws(' ', resource_type, resource_id, resource_name) FROM identity.audit_log WHERE action = @Action ORDER BY occurred_at", new { Action = action });

    /// <summary>The first whole-minute time after <paramref name="afterUtc"/> that is <paramref name="hour"/>:00 in
    /// <paramref name="zone"/>, in UTC (what a daily <c>0 hour * * *</c> schedule in that zone runs at next).</summary>
    protected static DateTime NextDaily(int hour, string zone, DateTime afterUtc)
    {
        var timeZone = TimeZoneInfo.FindSystemTimeZoneById(zone);
        var local = TimeZoneInfo.ConvertTimeFromUtc(afterUtc, timeZone);
        var candidate = local.Date.AddHours(hour);
        if (candidate <= local)
        {
            candidate = candidate.AddDays(1);
        }

        return TimeZoneInfo.ConvertTimeToUtc(DateTime.SpecifyKind(candidate, DateTimeKind.Unspecified), timeZone);
    }

    /// <summary>The next quarter hour strictly after <paramref name="afterUtc"/> (what <c>*/15 * * * *</c> in UTC runs at next).</summary>
    protected static DateTime NextQuarter(DateTime afterUtc)
    {
        var minute = new DateTime(afterUtc.Year, afterUtc.Month, afterUtc.Day, afterUtc.Hour, afterUtc.Minute, 0, DateTimeKind.Utc);
        var next = minute.AddMinutes(15 - (minute.Minute % 15));
        return next;
    }
}
