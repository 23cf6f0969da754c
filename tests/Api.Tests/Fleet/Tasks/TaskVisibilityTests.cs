using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Tasks;

/// <summary>Team scoping of scheduled tasks: a task bound to an instance of a team the caller is not in is absent from
/// lists and answers 404 on every route; fleet-wide tasks show only the executions on instances the caller can see.</summary>
public sealed class TaskVisibilityTests(FleetFixture fixture) : FleetTest(fixture)
{
    private async Task<Guid> CreateAsync(HttpClient client, string name, Guid? instanceId) =>
        (await (await client.PostJsonAsync("/api/v1/tasks", new { name, cron = "0 2 * * *", command = "sindri doctor", instanceId })).ShouldBeJsonAsync(HttpStatusCode.Created))
            .GetProperty("id").GetGuid();

    private static async Task<string?[]> NamesAsync(HttpClient client) =>
        [.. (await (await client.GetAsync("/api/v1/tasks")).ShouldBeJsonAsync()).GetProperty("tasks").EnumerateArray().Select(task => task.GetProperty("name").GetString()).Order()];

    [Fact]
    public async Task A_task_on_another_teams_instance_is_invisible_to_outsiders()
    {
        var team = Guid.CreateVersion7();
        var shared = await SeedInstanceAsync("shared");
        var teamOnly = await SeedInstanceAsync("team-only", teamId: team);
        var admin = await As(BaseRole.Admin);
        var (outsider, _) = await Fixture.ClientAsAsync(BaseRole.Operator);
        var (member, memberUser) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        await JoinTeamAsync(memberUser, team);
        var hidden = await CreateAsync(admin, "team task", teamOnly);
        await CreateAsync(admin, "shared task", shared);
        await CreateAsync(admin, "fleet task", null);

        (await NamesAsync(outsider)).ShouldBe(["fleet task", "shared task"]);
        (await NamesAsync(member)).ShouldBe(["fleet task", "shared task", "team task"]);
        (await NamesAsync(admin)).ShouldBe(["fleet task", "shared task", "team task"]);
        (await (await outsider.GetAsync($"/api/v1/tasks?instanceId={teamOnly}")).ShouldBeJsonAsync()).GetProperty("pagination").GetProperty("total").GetInt64().ShouldBe(0);
        (await (await member.GetAsync($"/api/v1/tasks/{hidden}")).ShouldBeJsonAsync()).GetProperty("name").GetString().ShouldBe("team task");

        var unknown = Guid.CreateVersion7();
        foreach (var id in new[] { hidden, unknown })
        {
            var error = await (await outsider.GetAsync($"/api/v1/tasks/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
            error.GetProperty("message").GetString().ShouldBe("Task not found");
            await (await outsider.PutAsync($"/api/v1/tasks/{id}", new StringContent("""{"name":"mine now"}""", System.Text.Encoding.UTF8, "application/json")))
                .ShouldBeErrorAsync(HttpStatusCode.NotFound);
            await (await outsider.PostAsync($"/api/v1/tasks/{id}/pause", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
            await (await outsider.PostAsync($"/api/v1/tasks/{id}/resume", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
            await (await outsider.PostAsync($"/api/v1/tasks/{id}/trigger", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
            await (await outsider.GetAsync($"/api/v1/tasks/{id}/history")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
            await (await outsider.DeleteAsync($"/api/v1/tasks/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        }

        // Nothing the outsider tried changed the task.
        var task = await (await admin.GetAsync($"/api/v1/tasks/{hidden}")).ShouldBeJsonAsync();
        (task.GetProperty("name").GetString(), task.GetProperty("status").GetString()).ShouldBe(("team task", "ACTIVE"));
        (await (await admin.GetAsync($"/api/v1/tasks/{hidden}/history")).ShouldBeJsonAsync()).GetProperty("executions").GetArrayLength().ShouldBe(0);

        // Creating a task on that instance, or moving a visible task onto it, is a 404 like an unknown instance.
        await (await outsider.PostJsonAsync("/api/v1/tasks", new { name = "sneak", cron = "0 2 * * *", command = "x", instanceId = teamOnly })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        var own = await CreateAsync(outsider, "own", shared);
        await (await outsider.PutAsync($"/api/v1/tasks/{own}", new StringContent($$"""{"instanceId":"{{teamOnly}}"}""", System.Text.Encoding.UTF8, "application/json")))
            .ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await CreateAsync(member, "member task", teamOnly)).ShouldNotBe(Guid.Empty);
    }

    [Fact]
    public async Task A_fleet_wide_task_runs_and_reports_only_on_the_instances_the_caller_can_see()
    {
        var team = Guid.CreateVersion7();
        var shared = await SeedInstanceAsync("shared");
        var teamOnly = await SeedInstanceAsync("team-only", teamId: team);
        var admin = await As(BaseRole.Admin);
        var (outsider, _) = await Fixture.ClientAsAsync(BaseRole.Operator);
        var fleetTask = await CreateAsync(admin, "fleet task", null);

        // No agent is connected: the outsider's run targets the shared instance only, the administrator's both.
        (await (await outsider.PostAsync($"/api/v1/tasks/{fleetTask}/trigger", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict))
            .GetProperty("message").GetString().ShouldBe("Agent for instance 'shared' is not connected: the task was not run");
        (await (await admin.PostAsync($"/api/v1/tasks/{fleetTask}/trigger", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict))
            .GetProperty("message").GetString().ShouldBe("No agent of the running instances is connected: the task was not run");

        // A conflict rolls the skipped runs back; executions the scheduler recorded on both instances:
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.task_executions (id, task_id, instance_id, status, stderr, triggered_by) VALUES
                (platform.uuid_v7(), @Task, @Shared, 'SKIPPED', 'not connected', 'scheduler'),
                (platform.uuid_v7(), @Task, @TeamOnly, 'SKIPPED', 'not connected', 'scheduler')
            """,
            new { Task = fleetTask, Shared = shared, TeamOnly = teamOnly });

        async Task<string?[]> InstancesAsync(HttpClient client)
        {
            var history = await (await client.GetAsync($"/api/v1/tasks/{fleetTask}/history")).ShouldBeJsonAsync();
            history.GetProperty("pagination").GetProperty("total").GetInt64().ShouldBe(history.GetProperty("executions").GetArrayLength());
            return [.. history.GetProperty("executions").EnumerateArray().Select(execution => execution.GetProperty("instanceName").GetString()).Order()];
        }

        (await InstancesAsync(outsider)).ShouldBe(["shared"]);
        (await InstancesAsync(admin)).ShouldBe(["shared", "team-only"]);
    }
}
