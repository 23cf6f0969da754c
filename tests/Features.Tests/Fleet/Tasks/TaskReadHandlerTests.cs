using Capstan.Features.Fleet.Tasks;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Tasks;

/// <summary>The task reads through the pipeline: one task, the list (filters, newest first, pages), a task's run history
/// with each run's outcome taken from its command, and the templates, each without other teams' instances.</summary>
public sealed class TaskReadHandlerTests(FleetHandlerFixture fixture) : TaskSliceHandlerTest(fixture)
{
    private static readonly DateTime T0 = new(2026, 3, 1, 10, 0, 0, DateTimeKind.Utc);

    private static readonly PageRequest FirstPage = new(0, 20);

    [Fact]
    public async Task A_task_is_read_with_every_field()
    {
        var web = await TaskInstanceAsync("web");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var created = await Fixture.SendAsAsync(
            viewer, new CreateTask.Command("backup", "nightly", "0 2 * * *", "UTC", "sindri backup", web, null, 600, 2, true, true, ["ops@example.test"]));

        var task = await Fixture.SendAsAsync(viewer, new GetTask.Query(created.Id));

        task.ShouldBeEquivalentTo(created);
        (task.Name, task.Description, task.Cron, task.Timezone, task.Command, task.InstanceId, task.Status, task.TimeoutSec, task.MaxRetries, task.NotifyOnFailure, task.NotifyOnSuccess,
            task.CreatedBy).ShouldBe(("backup", (string?)"nightly", "0 2 * * *", "UTC", "sindri backup", (Guid?)web, "ACTIVE", 600L, 2L, true, true, (Guid?)viewer.Id));
        task.NotifyEmails.ShouldBe(["ops@example.test"]);
    }

    [Fact]
    public async Task A_task_of_another_teams_instance_is_not_found_but_a_fleet_wide_one_is_seen()
    {
        var hidden = await TaskInstanceAsync("hidden", team: OtherTeam);
        var hiddenTask = await ScheduledTaskAsync("hidden", hidden);
        var fleetTask = await ScheduledTaskAsync("fleet");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetTask.Query(hiddenTask)))).Message.ShouldBe("Task not found");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetTask.Query(Guid.CreateVersion7())));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new GetTask.Query(Guid.Empty)));
        (await Fixture.SendAsAsync(viewer, new GetTask.Query(fleetTask))).Name.ShouldBe("fleet");
        (await Fixture.SendAsAsync(admin, new GetTask.Query(hiddenTask))).InstanceId.ShouldBe(hidden);
    }

    [Fact]
    public async Task Tasks_list_newest_first_filtered_by_status_and_instance_and_paged()
    {
        var web = await TaskInstanceAsync("web");
        var hidden = await TaskInstanceAsync("hidden", team: OtherTeam);
        var oldest = await ScheduledTaskAsync("oldest", web, createdAt: T0);
        var paused = await ScheduledTaskAsync("paused", null, "PAUSED", createdAt: T0.AddHours(1));
        var newest = await ScheduledTaskAsync("newest", web, "DISABLED", createdAt: T0.AddHours(2));
        await ScheduledTaskAsync("hidden", hidden, createdAt: T0.AddHours(3));
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        async Task<IEnumerable<Guid>> IdsAsync(ListTasks.Query query) => (await Fixture.SendAsAsync(viewer, query)).Tasks.Select(task => task.Id);

        var all = await Fixture.SendAsAsync(viewer, new ListTasks.Query(null, null, FirstPage));
        all.Tasks.Select(task => task.Id).ShouldBe([newest, paused, oldest]);
        all.Data.ShouldBe(all.Tasks);
        (all.Pagination.Total, all.Pagination.TotalPages).ShouldBe((3L, 1));
        (await IdsAsync(new("paused", null, FirstPage))).ShouldBe([paused]);
        (await IdsAsync(new("ACTIVE", null, FirstPage))).ShouldBe([oldest]);
        (await IdsAsync(new(null, web, FirstPage))).ShouldBe([newest, oldest]);
        (await IdsAsync(new(null, hidden, FirstPage))).ShouldBeEmpty();

        var second = await Fixture.SendAsAsync(viewer, new ListTasks.Query(null, null, new PageRequest(2, 2)));
        second.Tasks.Select(task => task.Id).ShouldBe([oldest]);
        (second.Pagination.Page, second.Pagination.Total, second.Pagination.TotalPages, second.Pagination.HasMore).ShouldBe((2, 3L, 2, false));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new ListTasks.Query("RUNNING", null, FirstPage)));
    }

    [Fact]
    public async Task Admins_list_other_teams_tasks()
    {
        var hidden = await TaskInstanceAsync("hidden", team: OtherTeam);
        var task = await ScheduledTaskAsync("hidden", hidden);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        (await Fixture.SendAsAsync(admin, new ListTasks.Query(null, null, FirstPage))).Tasks.ShouldHaveSingleItem().Id.ShouldBe(task);
    }

    private sealed record History(Guid Task, Guid Web, Guid Succeeded, Guid Skipped, Guid Failed, Guid Running, Guid Hidden, Guid SucceededCommand);

    /// <summary>A fleet-wide task's runs on web: SUCCEEDED at T0, SKIPPED at T0+1h, FAILED at T0+2h, still RUNNING at T0+3h;
    /// and one on another team's instance at T0+4h.</summary>
    private async Task<History> HistoryAsync()
    {
        var web = await TaskInstanceAsync("web");
        var hidden = await TaskInstanceAsync("hidden", team: OtherTeam);
        var task = await ScheduledTaskAsync("fleet");
        var ok = await CommandAsync(web, T0, "SUCCEEDED", 0, "done", string.Empty);
        var succeeded = await RunAsync(task, web, T0, ok);
        var skipped = await RunAsync(task, web, T0.AddHours(1), status: "SKIPPED", stderr: "Agent for instance 'web' is not connected");
        var failed = await RunAsync(task, web, T0.AddHours(2), await CommandAsync(web, T0.AddHours(2), "FAILED", 1, string.Empty, "boom"), triggeredBy: "manual");
        var running = await RunAsync(task, web, T0.AddHours(3), await CommandAsync(web, T0.AddHours(3), "RUNNING"));
        var other = await RunAsync(task, hidden, T0.AddHours(4), await CommandAsync(hidden, T0.AddHours(4), "SUCCEEDED", 0));
        return new History(task, web, succeeded, skipped, failed, running, other, ok);
    }

    [Fact]
    public async Task A_tasks_history_lists_its_runs_newest_first_with_their_commands_outcome()
    {
        var h = await HistoryAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var history = await Fixture.SendAsAsync(viewer, new ListTaskHistory.Query(h.Task, null, FirstPage));

        history.Executions.Select(run => (run.Id, run.Status, run.ExitCode, run.Stderr)).ShouldBe(
        [
            (h.Running, "RUNNING", (long?)null, (string?)null),
            (h.Failed, "FAILED", (long?)1, (string?)"boom"),
            (h.Skipped, "SKIPPED", (long?)null, (string?)"Agent for instance 'web' is not connected"),
            (h.Succeeded, "SUCCESS", (long?)0, (string?)string.Empty),
        ]);
        history.Data.ShouldBe(history.Executions);
        history.Pagination.Total.ShouldBe(4);
        history.Executions[3].ShouldBe(new TaskExecutionView(
            h.Succeeded, h.Task, h.Web, "web", "SUCCESS", 0, "done", string.Empty, T0, T0.AddSeconds(5), 5000, "scheduler", 1, null, h.SucceededCommand, null, null));
        // A run that was never dispatched finished when it started.
        (history.Executions[2].FinishedAt, history.Executions[2].CommandExecutionId).ShouldBe(((DateTime?)T0.AddHours(1), (Guid?)null));
        history.Executions[0].FinishedAt.ShouldBeNull();
    }

    [Fact]
    public async Task A_tasks_history_filters_by_outcome_and_pages()
    {
        var h = await HistoryAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        async Task<IEnumerable<Guid>> IdsAsync(TestUser user, ListTaskHistory.Query query) => (await Fixture.SendAsAsync(user, query)).Executions.Select(run => run.Id);

        (await IdsAsync(viewer, new(h.Task, "success", FirstPage))).ShouldBe([h.Succeeded]);
        (await IdsAsync(viewer, new(h.Task, "SKIPPED", FirstPage))).ShouldBe([h.Skipped]);
        (await IdsAsync(viewer, new(h.Task, "FAILED", FirstPage))).ShouldBe([h.Failed]);
        (await IdsAsync(viewer, new(h.Task, "RUNNING", FirstPage))).ShouldBe([h.Running]);
        (await IdsAsync(admin, new(h.Task, "SUCCESS", FirstPage))).ShouldBe([h.Hidden, h.Succeeded]);

        var page = await Fixture.SendAsAsync(viewer, new ListTaskHistory.Query(h.Task, null, new PageRequest(2, 2)));
        page.Executions.Select(run => run.Id).ShouldBe([h.Skipped, h.Succeeded]);
        (page.Pagination.Page, page.Pagination.Total, page.Pagination.TotalPages, page.Pagination.HasMore).ShouldBe((2, 4L, 2, false));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new ListTaskHistory.Query(h.Task, "DONE", FirstPage)));
    }

    [Fact]
    public async Task The_history_of_an_unknown_or_hidden_task_is_not_found()
    {
        var hidden = await TaskInstanceAsync("hidden", team: OtherTeam);
        var task = await ScheduledTaskAsync("hidden", hidden);
        await RunAsync(task, hidden, T0, status: "SKIPPED");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new ListTaskHistory.Query(task, null, FirstPage)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new ListTaskHistory.Query(Guid.CreateVersion7(), null, FirstPage)));
    }

    [Fact]
    public async Task The_templates_are_the_five_fixed_ones()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var templates = await Fixture.SendAsAsync(viewer, new ListTaskTemplates.Query());

        templates.Templates.Select(template => template.Key).ShouldBe(["daily-backup", "weekly-updates", "disk-cleanup", "health-check", "extension-update"]);
        templates.Templates[3].ShouldBe(new TaskTemplates.Template(
            "health-check", "Health check", "Check the instance's health every 15 minutes", "*/15 * * * *", "sindri doctor --json", 60, "Monitoring"));
        templates.Data.ShouldBe(templates.Templates);
    }
}
