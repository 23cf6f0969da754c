using Capstan.Features.Fleet.Tasks;
using Capstan.Infrastructure.Data;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Capstan.Features.Tests.Fleet.Tasks;

/// <summary>Which finished executions are mailed about, and what is recorded when the mail cannot go out (this fixture
/// has no SMTP server configured).</summary>
public sealed class TaskNotificationTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private Task<TaskNotifications.Outcome> SendAsync() =>
        Fixture.WithScopeAsync(scope => new TaskNotifications(scope.GetRequiredService<DbSession>(), scope.GetRequiredService<IConfiguration>(), NullLogger.Instance)
            .SendPendingAsync(DateTime.UtcNow, CancellationToken.None));

    private async Task<Guid> TaskAsync(Guid instance, bool onFailure, bool onSuccess, string[] emails, long maxRetries = 0)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.scheduled_tasks (id, name, cron, command, instance_id, max_retries, notify_on_failure, notify_on_success, notify_emails)
            VALUES (@Id, 'job', '0 * * * *', 'echo hi', @Instance, @MaxRetries, @OnFailure, @OnSuccess, @Emails)
            """,
            new { Id = id, Instance = instance, MaxRetries = maxRetries, OnFailure = onFailure, OnSuccess = onSuccess, Emails = emails });
        return id;
    }

    /// <summary>An execution whose command ended with <paramref name="commandStatus"/> (null: not dispatched, SKIPPED).</summary>
    private async Task<Guid> ExecutionAsync(Guid task, Guid instance, string? commandStatus, long attempt = 1)
    {
        var id = Guid.CreateVersion7();
        Guid? command = null;
        if (commandStatus is not null)
        {
            command = Guid.CreateVersion7();
            await Fixture.ExecuteAsync(
                """
                INSERT INTO fleet.command_executions (id, instance_id, command, timeout_ms, status, exit_code, stdout, completed_at)
                VALUES (@Id, @Instance, '/bin/sh', 1000, @Status, CASE @Status WHEN 'SUCCEEDED' THEN 0 WHEN 'FAILED' THEN 1 END, 'out', CASE WHEN @Status <> 'RUNNING' THEN now() END)
                """,
                new { Id = command, Instance = instance, Status = commandStatus });
        }

        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.task_executions (id, task_id, instance_id, command_execution_id, status, attempt, stderr, triggered_by)
            VALUES (@Id, @Task, @Instance, @Command, CASE WHEN @Command::uuid IS NULL THEN 'SKIPPED' ELSE 'RUNNING' END, @Attempt, 'agent away', 'scheduler')
            """,
            new { Id = id, Task = task, Instance = instance, Command = command, Attempt = attempt });
        return id;
    }

    private async Task<(string? Status, string? Error)> NotificationAsync(Guid execution) =>
        (await Fixture.QueryAsync<(string? Status, string? Error)>("SELECT notification_status, notification_error FROM fleet.task_executions WHERE id = @Id", new { Id = execution }))
            .Single();

    [Fact]
    public async Task Finished_runs_are_handled_once_as_their_task_asks_and_a_mail_that_cannot_go_out_is_recorded()
    {
        var instance = await InstanceAsync("box");
        var failing = await TaskAsync(instance, onFailure: true, onSuccess: false, ["ops@capstan.test"]);
        var quiet = await TaskAsync(instance, onFailure: false, onSuccess: false, ["ops@capstan.test"]);
        var nobody = await TaskAsync(instance, onFailure: true, onSuccess: true, []);
        var retried = await TaskAsync(instance, onFailure: true, onSuccess: false, ["ops@capstan.test"], maxRetries: 2);

        var failed = await ExecutionAsync(failing, instance, "FAILED");
        var skipped = await ExecutionAsync(failing, instance, null);
        var succeeded = await ExecutionAsync(failing, instance, "SUCCEEDED");
        var running = await ExecutionAsync(failing, instance, "RUNNING");
        var quietFailure = await ExecutionAsync(quiet, instance, "TIMEOUT");
        var noRecipients = await ExecutionAsync(nobody, instance, "FAILED");
        var firstAttempt = await ExecutionAsync(retried, instance, "FAILED", attempt: 1);
        var lastAttempt = await ExecutionAsync(retried, instance, "FAILED", attempt: 3);

        var outcome = await SendAsync();

        // No SMTP server here: the three mails due (failed, skipped, last attempt) fail, are recorded, and the runs keep
        // their outcome; a success nobody asked for, a quiet task, no recipients and a failure a retry follows send nothing.
        outcome.ShouldBe(new TaskNotifications.Outcome(0, 3, 4));
        (await NotificationAsync(failed)).ShouldBe(("FAILED", "E-mail is not configured: set Fleet:Smtp:Host (and Port, From)"));
        (await NotificationAsync(skipped)).Status.ShouldBe("FAILED");
        (await NotificationAsync(lastAttempt)).Status.ShouldBe("FAILED");
        (await NotificationAsync(succeeded)).ShouldBe(("NONE", null));
        (await NotificationAsync(quietFailure)).Status.ShouldBe("NONE");
        (await NotificationAsync(noRecipients)).Status.ShouldBe("NONE");
        (await NotificationAsync(firstAttempt)).Status.ShouldBe("RETRYING");
        (await NotificationAsync(running)).Status.ShouldBeNull();
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.command_executions WHERE id = (SELECT command_execution_id FROM fleet.task_executions WHERE id = @Id)", new { Id = failed }))
            .ShouldBe("FAILED");

        // Handled once: nothing is left for the next pass until the running one finishes.
        (await SendAsync()).ShouldBe(new TaskNotifications.Outcome(0, 0, 0));
        await Fixture.ExecuteAsync("UPDATE fleet.command_executions SET status = 'SUCCEEDED', exit_code = 0, completed_at = now() WHERE status = 'RUNNING'");
        (await SendAsync()).ShouldBe(new TaskNotifications.Outcome(0, 0, 1));
    }

    [Fact]
    public void The_mail_names_the_task_status_instance_and_summarises_long_output()
    {
        var row = new TaskNotifications.Row
        {
            Id = Guid.CreateVersion7(),
            TaskId = Guid.CreateVersion7(),
            TaskName = "backup",
            Command = "sindri backup create",
            Status = "TIMED_OUT",
            InstanceId = Guid.CreateVersion7(),
            InstanceName = "db-1",
            Stdout = new string('x', 5000) + "tail",
            TriggeredBy = "scheduler",
            Attempt = 1,
            StartedAt = new DateTime(2026, 11, 22, 2, 0, 0, DateTimeKind.Utc),
        };

        TaskNotifications.Subject(row).ShouldBe("[Capstan Task] TIMED_OUT: backup on db-1");
        var body = TaskNotifications.Body(row);
        body.ShouldContain("Task: backup");
        body.ShouldContain("Status: TIMED_OUT");
        body.ShouldContain($"Instance: db-1 ({row.InstanceId})");
        body.ShouldContain("Exit code: none");
        body.ShouldNotContain("Errors:");
        var summary = TaskNotifications.Summary(row.Stdout)!;
        summary.Length.ShouldBe(TaskNotifications.SummaryChars + 1);
        summary.ShouldEndWith("xtail");
        summary.ShouldStartWith("…");
        TaskNotifications.Summary("  \n ").ShouldBeNull();
    }
}
