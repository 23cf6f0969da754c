using Capstan.Features.Fleet.Tasks;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Tasks;

/// <summary>The task commands through the pipeline: create (from a template or not), change, delete, pause, resume and a
/// manual run, with their stored rows, next runs and audit, each refused on other teams' instances.</summary>
public sealed class TaskCommandHandlerTests(FleetHandlerFixture fixture) : TaskSliceHandlerTest(fixture)
{
    private static CreateTask.Command Create(
        string? name = "backup", string? cron = "0 2 * * *", string? command = "sindri backup", Guid? instance = null, string? template = null, string? timezone = null,
        string? description = null, long? timeoutSec = null, long? maxRetries = null, string[]? emails = null) =>
        new(name, description, cron, timezone, command, instance, template, timeoutSec, maxRetries, null, null, emails);

    private static UpdateTask.Command Update(
        Guid id, string? name = null, string? cron = null, string? timezone = null, string? command = null, bool setsInstance = false, Guid? instance = null, long? timeoutSec = null,
        long? maxRetries = null, string? description = null, string[]? emails = null) =>
        new(id, name, description, cron, timezone, command, setsInstance, instance, timeoutSec, maxRetries, null, null, emails);

    private sealed record Stored
    {
        public string Name { get; init; } = string.Empty;

        public string Cron { get; init; } = string.Empty;

        public string Timezone { get; init; } = string.Empty;

        public string Command { get; init; } = string.Empty;

        public Guid? InstanceId { get; init; }

        public string Status { get; init; } = string.Empty;

        public long TimeoutSec { get; init; }

        public DateTime? NextRunAt { get; init; }
    }

    private async Task<Stored> StoredAsync(Guid id) =>
        (await Fixture.QueryAsync<Stored>("SELECT name, cron, timezone, command, instance_id, status, timeout_sec, next_run_at FROM fleet.scheduled_tasks WHERE id = @Id", new { Id = id })).Single();

    [Fact]
    public async Task A_task_is_created_active_with_its_next_run_in_its_time_zone()
    {
        var web = await TaskInstanceAsync("web");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var task = await Fixture.SendAsAsync(viewer, new CreateTask.Command(
            " backup ", "nightly", "0 2 * * *", "Europe/Berlin", " sindri backup ", web, null, 600, 2, true, false, ["ops@example.test"]));

        (task.Name, task.Description, task.Cron, task.Timezone, task.Command, task.InstanceId, task.Status, task.Template, task.TimeoutSec, task.MaxRetries, task.NotifyOnFailure,
            task.NotifyOnSuccess, task.CreatedBy, task.LastRunAt).ShouldBe(
            ("backup", (string?)"nightly", "0 2 * * *", "Europe/Berlin", "sindri backup", (Guid?)web, "ACTIVE", (string?)null, 600L, 2L, true, false, (Guid?)viewer.Id, (DateTime?)null));
        task.NotifyEmails.ShouldBe(["ops@example.test"]);
        // 02:00 in Berlin, the first after the task was made.
        task.NextRunAt.ShouldBe(NextDaily(2, "Europe/Berlin", task.CreatedAt));
        (await StoredAsync(task.Id)).ShouldBe(new Stored
        {
            Name = "backup",
            Cron = "0 2 * * *",
            Timezone = "Europe/Berlin",
            Command = "sindri backup",
            InstanceId = web,
            Status = "ACTIVE",
            TimeoutSec = 600,
            NextRunAt = task.NextRunAt,
        });
        (await AuditAsync("task.create")).ShouldBe([$"task {task.Id} backup"]);
    }

    [Fact]
    public async Task A_template_fills_what_the_request_leaves_out()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var task = await Fixture.SendAsAsync(viewer, Create(name: null, cron: null, command: null, template: " health-check "));
        var named = await Fixture.SendAsAsync(viewer, Create(name: "own name", cron: null, command: null, template: "daily-backup", timeoutSec: 30));

        (task.Name, task.Description, task.Cron, task.Timezone, task.Command, task.Template, task.TimeoutSec, task.MaxRetries, task.InstanceId).ShouldBe(
            ("Health check", (string?)"Check the instance's health every 15 minutes", "*/15 * * * *", "UTC", "sindri doctor --json", (string?)"health-check", 60L, 0L, (Guid?)null));
        task.NextRunAt.ShouldBe(NextQuarter(task.CreatedAt));
        (named.Name, named.Cron, named.Command, named.TimeoutSec, named.Template).ShouldBe(("own name", "0 2 * * *", "sindri backup create --compress", 30L, (string?)"daily-backup"));
    }

    [Fact]
    public async Task Invalid_tasks_are_refused_and_nothing_is_stored()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        CreateTask.Command[] invalid =
        [
            Create(template: "hourly-reboot"),
            Create(name: null),
            Create(name: new string('n', 129)),
            Create(cron: null),
            Create(cron: "61 * * * *"),
            Create(cron: "* * * *"),
            Create(command: null),
            Create(command: new string('c', 2049)),
            Create(timezone: "Mars/Olympus_Mons"),
            Create(description: new string('d', 513)),
            Create(timeoutSec: 0),
            Create(timeoutSec: 3601),
            Create(maxRetries: 6),
            Create(emails: ["not-an-address"]),
            Create(emails: [.. Enumerable.Range(0, 11).Select(i => $"ops{i}@example.test")]),
        ];

        foreach (var command in invalid)
        {
            await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, command));
        }

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.scheduled_tasks")).ShouldBe(0);
    }

    [Fact]
    public async Task A_task_on_an_unknown_or_hidden_instance_is_not_found()
    {
        var hidden = await TaskInstanceAsync("hidden", team: OtherTeam);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, Create(instance: hidden)))).Message.ShouldBe($"Instance '{hidden}' not found");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, Create(instance: Guid.CreateVersion7())));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.scheduled_tasks")).ShouldBe(0);
    }

    [Fact]
    public async Task A_changed_schedule_is_rescheduled_and_other_changes_keep_the_next_run()
    {
        var web = await TaskInstanceAsync("web");
        var next = new DateTime(2030, 1, 1, 0, 5, 0, DateTimeKind.Utc);
        var id = await ScheduledTaskAsync("job", web, nextRunAt: next);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var renamed = await Fixture.SendAsAsync(viewer, Update(id, name: " renamed ", command: "echo changed", timeoutSec: 60, setsInstance: true, instance: null));

        (renamed.Name, renamed.Command, renamed.TimeoutSec, renamed.InstanceId, renamed.Cron, renamed.NextRunAt).ShouldBe(("renamed", "echo changed", 60L, (Guid?)null, "*/5 * * * *", (DateTime?)next));

        var rescheduled = await Fixture.SendAsAsync(viewer, Update(id, cron: "0 2 * * *", timezone: "Europe/Berlin", setsInstance: true, instance: web));

        (rescheduled.Cron, rescheduled.Timezone, rescheduled.InstanceId, rescheduled.Name).ShouldBe(("0 2 * * *", "Europe/Berlin", (Guid?)web, "renamed"));
        rescheduled.NextRunAt.ShouldBe(NextDaily(2, "Europe/Berlin", rescheduled.UpdatedAt));
        (await StoredAsync(id)).ShouldBe(new Stored
        {
            Name = "renamed",
            Cron = "0 2 * * *",
            Timezone = "Europe/Berlin",
            Command = "echo changed",
            InstanceId = web,
            Status = "ACTIVE",
            TimeoutSec = 60,
            NextRunAt = rescheduled.NextRunAt,
        });
        (await AuditAsync("task.update")).ShouldBe([$"task {id} renamed", $"task {id} renamed"]);
    }

    [Fact]
    public async Task A_paused_task_gets_no_next_run_from_a_new_schedule()
    {
        var id = await ScheduledTaskAsync("job", status: "PAUSED");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var updated = await Fixture.SendAsAsync(viewer, Update(id, cron: "0 3 * * *"));

        (updated.Cron, updated.Status, updated.NextRunAt).ShouldBe(("0 3 * * *", "PAUSED", (DateTime?)null));
    }

    [Fact]
    public async Task Invalid_or_unknown_updates_are_refused_and_change_nothing()
    {
        var web = await TaskInstanceAsync("web");
        var hidden = await TaskInstanceAsync("hidden", team: OtherTeam);
        var id = await ScheduledTaskAsync("job", web);
        var hiddenTask = await ScheduledTaskAsync("hidden", hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        UpdateTask.Command[] invalid =
        [
            Update(id, name: "  "),
            Update(id, cron: "every minute"),
            Update(id, timezone: "Nowhere/Town"),
            Update(id, command: "   "),
            Update(id, description: new string('d', 513)),
            Update(id, timeoutSec: 3601),
            Update(id, maxRetries: -1),
            Update(id, emails: ["@"]),
        ];

        foreach (var command in invalid)
        {
            await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, command));
        }

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, Update(Guid.CreateVersion7(), name: "x")));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, Update(hiddenTask, name: "x")));
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, Update(id, name: "x", setsInstance: true, instance: hidden)))).Message
            .ShouldBe($"Instance '{hidden}' not found");

        (await StoredAsync(id)).Name.ShouldBe("job");
        (await StoredAsync(hiddenTask)).Name.ShouldBe("hidden");
        (await AuditAsync("task.update")).ShouldBeEmpty();
    }

    [Fact]
    public async Task Deleting_a_task_deletes_its_history_but_not_the_commands_it_ran()
    {
        var web = await TaskInstanceAsync("web");
        var id = await ScheduledTaskAsync("job", web);
        var kept = await ScheduledTaskAsync("kept", web);
        var command = await CommandAsync(web, DateTime.UtcNow, "SUCCEEDED", 0);
        await RunAsync(id, web, DateTime.UtcNow, command);
        await RunAsync(kept, web, DateTime.UtcNow, status: "SKIPPED");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var deleted = await Fixture.SendAsAsync(viewer, new DeleteTask.Command(id));

        deleted.ShouldBe(new DeleteTask.Response("Task deleted", id, "job"));
        (await Fixture.QueryAsync<Guid>("SELECT id FROM fleet.scheduled_tasks")).ShouldBe([kept]);
        (await Fixture.QueryAsync<Guid>("SELECT task_id FROM fleet.task_executions")).ShouldBe([kept]);
        (await Fixture.QueryAsync<Guid>("SELECT id FROM fleet.command_executions")).ShouldBe([command]);
        (await AuditAsync("task.delete")).ShouldBe([$"task {id} job"]);
    }

    [Fact]
    public async Task Deleting_an_unknown_or_hidden_task_is_not_found()
    {
        var hidden = await TaskInstanceAsync("hidden", team: OtherTeam);
        var hiddenTask = await ScheduledTaskAsync("hidden", hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new DeleteTask.Command(hiddenTask)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new DeleteTask.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new DeleteTask.Command(Guid.Empty)));

        (await Fixture.QueryAsync<Guid>("SELECT id FROM fleet.scheduled_tasks")).ShouldBe([hiddenTask]);
    }

    [Fact]
    public async Task Pausing_stops_the_schedule_once_and_a_disabled_task_cannot_be_paused()
    {
        var id = await ScheduledTaskAsync("job", nextRunAt: DateTime.UtcNow.AddMinutes(5));
        var disabled = await ScheduledTaskAsync("off", status: "DISABLED");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var paused = await Fixture.SendAsAsync(viewer, new PauseTask.Command(id));
        var again = await Fixture.SendAsAsync(viewer, new PauseTask.Command(id));

        (paused.Id, paused.Status, paused.NextRunAt).ShouldBe((id, "PAUSED", (DateTime?)null));
        again.ShouldBeEquivalentTo(paused);
        (await StoredAsync(id)).Status.ShouldBe("PAUSED");
        (await AuditAsync("task.pause")).ShouldBe([$"task {id} job"]);
        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(viewer, new PauseTask.Command(disabled)))).Message.ShouldBe("Task is DISABLED and cannot be paused; resume it to schedule it again");
        (await StoredAsync(disabled)).Status.ShouldBe("DISABLED");
    }

    [Fact]
    public async Task Pausing_an_unknown_or_hidden_task_is_not_found()
    {
        var hidden = await TaskInstanceAsync("hidden", team: OtherTeam);
        var hiddenTask = await ScheduledTaskAsync("hidden", hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new PauseTask.Command(hiddenTask)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new PauseTask.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new PauseTask.Command(Guid.Empty)));
        (await StoredAsync(hiddenTask)).Status.ShouldBe("ACTIVE");
    }

    [Fact]
    public async Task Resuming_restarts_the_schedule_from_now_and_an_active_task_stays_as_it_is()
    {
        var id = await ScheduledTaskAsync("job", status: "PAUSED", cron: "*/15 * * * *");
        var next = new DateTime(2030, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var active = await ScheduledTaskAsync("active", nextRunAt: next);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var resumed = await Fixture.SendAsAsync(viewer, new ResumeTask.Command(id));

        (resumed.Status, resumed.NextRunAt).ShouldBe(("ACTIVE", (DateTime?)NextQuarter(resumed.UpdatedAt)));
        (await StoredAsync(id)).NextRunAt.ShouldBe(resumed.NextRunAt);
        (await Fixture.SendAsAsync(viewer, new ResumeTask.Command(active))).NextRunAt.ShouldBe(next);
        (await AuditAsync("task.resume")).ShouldBe([$"task {id} job"]);
    }

    [Fact]
    public async Task Resuming_a_disabled_task_schedules_it_again()
    {
        var id = await ScheduledTaskAsync("disabled", status: "DISABLED", cron: "*/15 * * * *");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var resumed = await Fixture.SendAsAsync(viewer, new ResumeTask.Command(id));

        (resumed.Status, resumed.NextRunAt).ShouldBe(("ACTIVE", (DateTime?)NextQuarter(resumed.UpdatedAt)));
        (await StoredAsync(id)).Status.ShouldBe("ACTIVE");
        (await AuditAsync("task.resume")).ShouldBe([$"task {id} disabled"]);
    }

    [Fact]
    public async Task Resuming_an_unknown_or_hidden_task_is_not_found()
    {
        var hidden = await TaskInstanceAsync("hidden", team: OtherTeam);
        var hiddenTask = await ScheduledTaskAsync("hidden", hidden, status: "PAUSED");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new ResumeTask.Command(hiddenTask)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new ResumeTask.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new ResumeTask.Command(Guid.Empty)));
        (await StoredAsync(hiddenTask)).Status.ShouldBe("PAUSED");
    }

    [Fact]
    public async Task A_manual_run_dispatches_the_command_to_the_tasks_instance_whatever_its_status()
    {
        var web = await TaskInstanceAsync("web", online: true);
        var id = await ScheduledTaskAsync("job", web, status: "PAUSED", timeoutSec: 42);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var run = await Fixture.SendAsAsync(viewer, new TriggerTask.Command(id));

        (run.TaskId, run.InstanceId, run.InstanceName, run.Status, run.TriggeredBy).ShouldBe((id, (Guid?)web, (string?)"web", "RUNNING", "manual"));
        run.Executions.ShouldHaveSingleItem().Id.ShouldBe(run.Id);
        var command = (await Fixture.QueryAsync<(Guid Id, string Command, string Args, long TimeoutMs, Guid? UserId)>(
            "SELECT id, command, array_to_string(args, '|'), timeout_ms, user_id FROM fleet.command_executions")).ShouldHaveSingleItem();
        command.ShouldBe((run.CommandExecutionId!.Value, "/bin/sh", "-c|echo job", 42_000L, (Guid?)viewer.Id));
        (await Fixture.ScalarAsync<DateTime?>("SELECT last_run_at FROM fleet.scheduled_tasks WHERE id = @Id", new { Id = id })).ShouldBe(run.StartedAt);
        (await StoredAsync(id)).Status.ShouldBe("PAUSED");
        (await AuditAsync("task.trigger")).ShouldBe([$"task {id} job"]);
    }

    [Fact]
    public async Task A_fleet_wide_run_goes_to_each_visible_running_instance_and_skips_those_without_an_agent()
    {
        var online = await TaskInstanceAsync("alpha", online: true);
        var offline = await TaskInstanceAsync("beta");
        await TaskInstanceAsync("gamma", online: true, status: "STOPPED");
        await TaskInstanceAsync("hidden", online: true, team: OtherTeam);
        var id = await ScheduledTaskAsync("job");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var run = await Fixture.SendAsAsync(viewer, new TriggerTask.Command(id));

        (run.InstanceId, run.Status).ShouldBe(((Guid?)online, "RUNNING"));
        run.Executions.Select(execution => (execution.InstanceId, execution.Status, execution.Stderr)).ShouldBe(
        [
            ((Guid?)online, "RUNNING", (string?)null),
            ((Guid?)offline, "SKIPPED", (string?)"Agent for instance 'beta' is not connected"),
        ]);
        (await Fixture.QueryAsync<Guid>("SELECT instance_id FROM fleet.command_executions")).ShouldBe([online]);
    }

    [Fact]
    public async Task A_run_no_agent_can_take_is_refused_and_leaves_no_trace()
    {
        var web = await TaskInstanceAsync("web");
        var onWeb = await ScheduledTaskAsync("job", web);
        var fleetWide = await ScheduledTaskAsync("fleet");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(viewer, new TriggerTask.Command(onWeb)))).Message
            .ShouldBe("Agent for instance 'web' is not connected: the task was not run");
        await TaskInstanceAsync("db");
        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(viewer, new TriggerTask.Command(fleetWide)))).Message
            .ShouldBe("No agent of the running instances is connected: the task was not run");
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET status = 'STOPPED'");
        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(viewer, new TriggerTask.Command(fleetWide)))).Message
            .ShouldBe("No running instance to run the task on");

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.task_executions")).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.scheduled_tasks WHERE last_run_at IS NOT NULL")).ShouldBe(0);
    }

    [Fact]
    public async Task Running_an_unknown_or_hidden_task_is_not_found()
    {
        var hidden = await TaskInstanceAsync("hidden", online: true, team: OtherTeam);
        var hiddenTask = await ScheduledTaskAsync("hidden", hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new TriggerTask.Command(hiddenTask)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new TriggerTask.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new TriggerTask.Command(Guid.Empty)));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.command_executions")).ShouldBe(0);
    }
}
