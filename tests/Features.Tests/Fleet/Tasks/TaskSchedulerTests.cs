using Capstan.Features.Fleet.Tasks;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Fleet.Tasks;

/// <summary>The scheduler job on the real database: due tasks run once, are rescheduled, and skipped when no agent can
/// take them.</summary>
public sealed class TaskSchedulerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private TaskSchedulerJob Job => Fixture.Services.GetRequiredService<TaskSchedulerJob>();

    private async Task<Guid> TaskAsync(Guid? instance, string cron, DateTime nextRunAt, string status = "ACTIVE")
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.scheduled_tasks (id, name, cron, command, instance_id, status, next_run_at) VALUES (@Id, 'job', @Cron, 'echo hi', @Instance, @Status, @Next)",
            new { Id = id, Cron = cron, Instance = instance, Status = status, Next = nextRunAt });
        return id;
    }

    [Fact]
    public async Task Due_tasks_run_once_even_when_replicas_tick_together_and_are_rescheduled()
    {
        var online = await InstanceAsync("online");
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET agent_connection_id = platform.uuid_v7(), agent_connected_at = now() WHERE id = @Id", new { Id = online });
        var due = await TaskAsync(online, "*/5 * * * *", DateTime.UtcNow.AddMinutes(-1));
        await TaskAsync(online, "*/5 * * * *", DateTime.UtcNow.AddHours(1));
        await TaskAsync(online, "*/5 * * * *", DateTime.UtcNow.AddMinutes(-1), status: "PAUSED");

        var ticks = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Job.TryRunAsync(CancellationToken.None)));

        ticks.Count(ran => ran).ShouldBeGreaterThanOrEqualTo(1);
        var runs = await Fixture.QueryAsync<(Guid TaskId, string TriggeredBy, Guid? CommandExecutionId)>("SELECT task_id, triggered_by, command_execution_id FROM fleet.task_executions");
        var run = runs.ShouldHaveSingleItem();
        (run.TaskId, run.TriggeredBy).ShouldBe((due, "scheduler"));
        (await Fixture.ScalarAsync<string>("SELECT command FROM fleet.command_executions WHERE id = @Id", new { Id = run.CommandExecutionId })).ShouldBe("/bin/sh");
        var next = await Fixture.ScalarAsync<DateTime>("SELECT next_run_at FROM fleet.scheduled_tasks WHERE id = @Id", new { Id = due });
        next.ShouldBeGreaterThan(DateTime.UtcNow);
        (next.Minute % 5).ShouldBe(0);
        next.ShouldBeLessThanOrEqualTo(DateTime.UtcNow.AddMinutes(5));
        (await Fixture.ScalarAsync<DateTime?>("SELECT last_run_at FROM fleet.scheduled_tasks WHERE id = @Id", new { Id = due })).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_run_whose_agent_is_away_is_skipped_with_the_reason_and_failed_runs_are_retried()
    {
        var offline = await InstanceAsync("offline");
        var task = await TaskAsync(offline, "0 * * * *", DateTime.UtcNow.AddMinutes(-1));

        (await Job.TryRunAsync(CancellationToken.None)).ShouldBeTrue();

        var skipped = (await Fixture.QueryAsync<(string Status, string Stderr)>("SELECT status, stderr FROM fleet.task_executions")).ShouldHaveSingleItem();
        skipped.ShouldBe(("SKIPPED", "Agent for instance 'offline' is not connected"));

        // A failed command is retried while the attempt is within maxRetries.
        var online = await InstanceAsync("online");
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET agent_connection_id = platform.uuid_v7(), agent_connected_at = now() WHERE id = @Id", new { Id = online });
        await Fixture.ExecuteAsync("UPDATE fleet.scheduled_tasks SET instance_id = @Online, max_retries = 1, next_run_at = now() - interval '1 minute' WHERE id = @Id", new { Id = task, Online = online });
        (await Job.TryRunAsync(CancellationToken.None)).ShouldBeTrue();
        await Fixture.ExecuteAsync("UPDATE fleet.command_executions SET status = 'FAILED', exit_code = 1, completed_at = now()");
        (await Job.TryRunAsync(CancellationToken.None)).ShouldBeTrue();
        Job.LastOutcome!.Retries.ShouldBe(1);
        await Fixture.ExecuteAsync("UPDATE fleet.command_executions SET status = 'FAILED', exit_code = 1, completed_at = now()");
        (await Job.TryRunAsync(CancellationToken.None)).ShouldBeTrue();
        Job.LastOutcome!.Retries.ShouldBe(0); // attempt 2 is past maxRetries 1
        (await Fixture.QueryAsync<(long Attempt, string TriggeredBy)>("SELECT attempt, triggered_by FROM fleet.task_executions WHERE instance_id = @Id ORDER BY attempt", new { Id = online }))
            .ShouldBe([(1L, "scheduler"), (2L, "retry")]);
    }
}
