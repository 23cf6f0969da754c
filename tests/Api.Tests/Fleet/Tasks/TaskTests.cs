using System.Net;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Tasks;

public sealed class TaskTests(FleetFixture fixture) : FleetTest(fixture)
{
    private static readonly string[] TaskFields =
    [
        "id", "name", "description", "cron", "timezone", "command", "instanceId", "status", "template", "timeoutSec", "maxRetries", "notifyOnFailure", "notifyOnSuccess",
        "notifyEmails", "lastRunAt", "nextRunAt", "createdAt", "updatedAt", "createdBy",
    ];

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Any_user_creates_a_task_with_its_next_run_and_reads_lists_and_changes_it()
    {
        var instance = await SeedInstanceAsync("box");
        var (client, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        var response = await client.PostJsonAsync("/api/v1/tasks", new { name = "nightly", cron = "0 2 * * *", timezone = "Europe/Berlin", command = "sindri backup", instanceId = instance });

        var task = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        task.PropertyNames().ShouldBe(TaskFields);
        task.GetProperty("status").GetString().ShouldBe("ACTIVE");
        task.GetProperty("timeoutSec").GetInt32().ShouldBe(300);
        task.GetProperty("createdBy").GetGuid().ShouldBe(user.Id);
        var next = task.GetProperty("nextRunAt").GetDateTime().ToUniversalTime();
        next.Hour.ShouldBeOneOf(0, 1); // 02:00 Berlin
        var id = task.GetProperty("id").GetGuid();

        (await (await client.GetAsync($"/api/v1/tasks/{id}")).ShouldBeJsonAsync()).PropertyNames().ShouldBe(TaskFields);
        var list = await (await client.GetAsync("/api/v1/tasks?status=active")).ShouldBeJsonAsync();
        list.PropertyNames().ShouldBe(["tasks", "data", "pagination"]);
        list.GetProperty("tasks").GetArrayLength().ShouldBe(1);

        var updated = await (await client.PutAsync($"/api/v1/tasks/{id}", Json("{\"cron\":\"*/10 * * * *\",\"timezone\":\"UTC\",\"instanceId\":null}"))).ShouldBeJsonAsync();
        updated.GetProperty("cron").GetString().ShouldBe("*/10 * * * *");
        updated.GetProperty("instanceId").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        (updated.GetProperty("nextRunAt").GetDateTime().ToUniversalTime() - DateTime.UtcNow).ShouldBeLessThanOrEqualTo(TimeSpan.FromMinutes(10));

        var paused = await (await client.PostAsync($"/api/v1/tasks/{id}/pause", null)).ShouldBeJsonAsync();
        (paused.GetProperty("status").GetString(), paused.GetProperty("nextRunAt").ValueKind).ShouldBe(("PAUSED", System.Text.Json.JsonValueKind.Null));
        (await (await client.PostAsync($"/api/v1/tasks/{id}/pause", null)).ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("PAUSED");
        var resumed = await (await client.PostAsync($"/api/v1/tasks/{id}/resume", null)).ShouldBeJsonAsync();
        resumed.GetProperty("status").GetString().ShouldBe("ACTIVE");
        resumed.GetProperty("nextRunAt").ValueKind.ShouldNotBe(System.Text.Json.JsonValueKind.Null);

        var deleted = await (await client.DeleteAsync($"/api/v1/tasks/{id}")).ShouldBeJsonAsync();
        (deleted.GetProperty("message").GetString(), deleted.GetProperty("name").GetString()).ShouldBe(("Task deleted", "nightly"));
        await (await client.GetAsync($"/api/v1/tasks/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.DeleteAsync($"/api/v1/tasks/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PostAsync($"/api/v1/tasks/{id}/pause", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PostAsync($"/api/v1/tasks/{id}/resume", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PutAsync($"/api/v1/tasks/{id}", Json("{}"))).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync($"/api/v1/tasks/{id}/history")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Templates_are_listed_and_fill_a_task()
    {
        var client = await As(BaseRole.Viewer);

        var templates = await (await client.GetAsync("/api/v1/tasks/templates")).ShouldBeJsonAsync();

        templates.GetProperty("templates").EnumerateArray().Select(item => item.GetProperty("key").GetString())
            .ShouldBe(["daily-backup", "weekly-updates", "disk-cleanup", "health-check", "extension-update"]);
        templates.GetProperty("templates")[0].PropertyNames().ShouldBe(["key", "name", "description", "cron", "command", "timeoutSec", "category"]);
        var task = await (await client.PostJsonAsync("/api/v1/tasks", new { template = "health-check" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        (task.GetProperty("cron").GetString(), task.GetProperty("timeoutSec").GetInt32(), task.GetProperty("template").GetString()).ShouldBe(("*/15 * * * *", 60, "health-check"));
    }

    [Theory]
    [InlineData("{\"cron\":\"0 2 * * *\",\"command\":\"x\"}", "name")]
    [InlineData("{\"name\":\"t\",\"cron\":\"0 2 * *\",\"command\":\"x\"}", "cron")]
    [InlineData("{\"name\":\"t\",\"cron\":\"x 2 * * *\",\"command\":\"x\"}", "cron")]
    [InlineData("{\"name\":\"t\",\"command\":\"x\"}", "cron")]
    [InlineData("{\"name\":\"t\",\"cron\":\"0 2 * * *\"}", "command")]
    [InlineData("{\"name\":\"t\",\"cron\":\"0 2 * * *\",\"command\":\"x\",\"timezone\":\"Mars/Base\"}", "timezone")]
    [InlineData("{\"name\":\"t\",\"cron\":\"0 2 * * *\",\"command\":\"x\",\"timeoutSec\":0}", "timeoutSec")]
    [InlineData("{\"name\":\"t\",\"cron\":\"0 2 * * *\",\"command\":\"x\",\"maxRetries\":6}", "maxRetries")]
    [InlineData("{\"name\":\"t\",\"cron\":\"0 2 * * *\",\"command\":\"x\",\"template\":\"nope\"}", "template")]
    [InlineData("{\"name\":\"t\",\"cron\":\"0 2 * * *\",\"command\":\"x\",\"notifyEmails\":[\"not-an-address\"]}", "notifyEmails")]
    public async Task Bad_tasks_are_400(string json, string field)
    {
        var client = await As(BaseRole.Viewer);

        var error = await (await client.PostAsync("/api/v1/tasks", Json(json))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        error.GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
        if (field == "cron" && json.Contains("0 2 * *\"", StringComparison.Ordinal))
        {
            error.GetProperty("details").GetProperty("cron")[0].GetString().ShouldBe("Invalid cron expression");
        }
    }

    [Fact]
    public async Task A_task_for_an_unknown_instance_is_404()
    {
        var client = await As(BaseRole.Viewer);

        await (await client.PostJsonAsync("/api/v1/tasks", new { name = "t", cron = "0 2 * * *", command = "x", instanceId = Guid.CreateVersion7() })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Triggering_dispatches_a_command_and_history_shows_its_outcome()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var instance = await SeedInstanceAsync("worker");
        var client = await As(BaseRole.Viewer);
        var id = (await (await client.PostJsonAsync("/api/v1/tasks", new { name = "cleanup", cron = "0 4 * * *", command = "sindri system cleanup", instanceId = instance }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        var offline = await (await client.PostAsync($"/api/v1/tasks/{id}/trigger", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        offline.GetProperty("message").GetString().ShouldBe("Agent for instance 'worker' is not connected: the task was not run");

        await using var agent = await SimulatedAgent.ConnectAsync(Fixture.Factory, instance.ToString(), await Fixture.CreateApiKeyAsync(user));
        var triggered = await client.PostAsync($"/api/v1/tasks/{id}/trigger", null);
        var run = await triggered.ShouldBeJsonAsync(HttpStatusCode.Accepted);
        run.PropertyNames().ShouldBe(["id", "taskId", "instanceId", "instanceName", "status", "triggeredBy", "startedAt", "commandExecutionId", "executions"]);
        run.GetProperty("triggeredBy").GetString().ShouldBe("manual");
        await agent.NextAsync("command:dispatch");
        agent.Dispatched.ShouldHaveSingleItem().GetProperty("args")[1].GetString().ShouldBe("sindri system cleanup");

        System.Text.Json.JsonElement history;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            history = await (await client.GetAsync($"/api/v1/tasks/{id}/history")).ShouldBeJsonAsync();
        }
        while (history.GetProperty("executions")[0].GetProperty("status").GetString() == "RUNNING" && DateTime.UtcNow < deadline && await Task.Delay(50).ContinueWith(_ => true));

        history.PropertyNames().ShouldBe(["executions", "data", "pagination"]);
        var execution = history.GetProperty("executions").EnumerateArray().ShouldHaveSingleItem();
        execution.PropertyNames().ShouldBe(
        [
            "id", "taskId", "instanceId", "instanceName", "status", "exitCode", "stdout", "stderr", "startedAt", "finishedAt", "durationMs", "triggeredBy", "attempt",
            "scheduledFor", "commandExecutionId",
        ]);
        (execution.GetProperty("status").GetString(), execution.GetProperty("exitCode").GetInt32(), execution.GetProperty("stdout").GetString()).ShouldBe(("SUCCESS", 0, "ran /bin/sh"));
        (await (await client.GetAsync($"/api/v1/tasks/{id}/history?status=FAILED")).ShouldBeJsonAsync()).GetProperty("executions").GetArrayLength().ShouldBe(0);
        await (await client.GetAsync($"/api/v1/tasks/{id}/history?status=WEIRD")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await client.PostAsync($"/api/v1/tasks/{Guid.CreateVersion7()}/trigger", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }
}
