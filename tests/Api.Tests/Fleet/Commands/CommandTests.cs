using System.Net;
using System.Text;
using Capstan.Features.Fleet.Maintenance;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Fleet.Commands;

public sealed class CommandTests(FleetFixture fixture) : FleetTest(fixture)
{
    private static readonly string[] ExecutionFields =
    [
        "id", "instanceId", "instanceName", "userId", "batchId", "command", "args", "env", "workingDir", "timeoutMs", "status", "exitCode", "stdout", "stderr",
        "durationMs", "correlationId", "hasScript", "createdAt", "dispatchedAt", "completedAt",
    ];

    private async Task<(Guid Id, SimulatedAgent Agent)> ConnectedAsync(string name, ApiFactory? factory = null)
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var key = await Fixture.CreateApiKeyAsync(user);
        var id = await SeedInstanceAsync(name);
        return (id, await SimulatedAgent.ConnectAsync(factory ?? Fixture.Factory, id.ToString(), key));
    }

    [Fact]
    public async Task A_command_runs_on_the_agent_and_its_result_is_captured()
    {
        var (id, agent) = await ConnectedAsync("runner");
        await using var _ = agent;
        agent.CommandHandler = dispatch => new { command_id = dispatch.GetProperty("command_id").GetString(), exit_code = 3, stdout = "partial", stderr = "oops", duration_ms = 40 };
        var (client, user) = await Fixture.ClientAsAsync(BaseRole.Developer);

        var response = await client.PostJsonAsync("/api/v1/commands", new
        {
            instanceId = id,
            command = "make",
            args = new[] { "test" },
            env = new Dictionary<string, string> { ["CI"] = "1", ["TOKEN"] = "sensitive" },
            workingDir = "/src",
            timeoutMs = 5000,
        });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(ExecutionFields);
        body.GetProperty("status").GetString().ShouldBe("FAILED");
        body.GetProperty("exitCode").GetInt32().ShouldBe(3);
        body.GetProperty("stderr").GetString().ShouldBe("oops");
        body.GetProperty("durationMs").GetInt64().ShouldBe(40);
        body.GetProperty("userId").GetGuid().ShouldBe(user.Id);
        body.GetProperty("correlationId").GetGuid().ShouldBe(body.GetProperty("id").GetGuid());
        body.GetProperty("env").GetProperty("TOKEN").GetString().ShouldBe("***");
        var dispatched = agent.Dispatched.Single();
        dispatched.GetProperty("working_dir").GetString().ShouldBe("/src");
        dispatched.GetProperty("timeout_ms").GetInt32().ShouldBe(5000);
        dispatched.GetProperty("env").EnumerateArray().Select(item => item.GetString()).ShouldBe(["CI=1", "TOKEN=sensitive"]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'command.execute' AND metadata::text NOT LIKE '%sensitive%'")).ShouldBe(1);

        var detail = await (await client.GetAsync($"/api/v1/commands/{body.GetProperty("id").GetGuid()}")).ShouldBeJsonAsync();
        detail.GetProperty("stdout").GetString().ShouldBe("partial");
    }

    [Fact]
    public async Task An_agent_that_does_not_answer_times_the_command_out()
    {
        var (id, agent) = await ConnectedAsync("mute");
        await using var _ = agent;
        agent.CommandHandler = _ => null;
        var client = await As(BaseRole.Developer);

        var body = await (await client.PostJsonAsync("/api/v1/commands", new { instanceId = id, command = "sleep", args = new[] { "100" }, timeoutMs = 1000 }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);

        body.GetProperty("status").GetString().ShouldBe("TIMEOUT");
        body.GetProperty("stderr").GetString()!.ShouldStartWith("Timed out");
        body.GetProperty("completedAt").GetDateTime().ShouldBeGreaterThan(body.GetProperty("dispatchedAt").GetDateTime());
    }

    [Fact]
    public async Task The_command_reaches_the_agent_on_another_replica()
    {
        await using var replica = new ApiFactory(Fixture.ConnectionString, FleetFixture.Settings);
        await replica.WaitUntilReadyAsync();
        var (id, agent) = await ConnectedAsync("elsewhere", replica);
        await using var _ = agent;
        var client = await As(BaseRole.Developer);

        var body = await (await client.PostJsonAsync("/api/v1/commands", new { instanceId = id, command = "hostname" })).ShouldBeJsonAsync(HttpStatusCode.Created);

        body.GetProperty("status").GetString().ShouldBe("SUCCEEDED");
        body.GetProperty("stdout").GetString().ShouldBe("ran hostname");
    }

    [Fact]
    public async Task Without_a_connected_agent_the_command_is_409_and_unknown_instances_404()
    {
        var offline = await SeedInstanceAsync("offline");
        var client = await As(BaseRole.Developer);

        (await (await client.PostJsonAsync("/api/v1/commands", new { instanceId = offline, command = "ls" })).ShouldBeErrorAsync(HttpStatusCode.Conflict))
            .GetProperty("message").GetString().ShouldBe("Agent for instance 'offline' is not connected");
        await (await client.PostJsonAsync("/api/v1/commands", new { instanceId = Guid.CreateVersion7(), command = "ls" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.command_executions")).ShouldBe(0);
    }

    [Theory]
    [InlineData("{\"command\":\"ls\"}", "instanceId")]
    [InlineData("{\"instanceId\":\"@id\"}", "command")]
    [InlineData("{\"instanceId\":\"@id\",\"command\":\"ls\",\"timeoutMs\":999}", "timeoutMs")]
    [InlineData("{\"instanceId\":\"@id\",\"command\":\"ls\",\"timeoutMs\":300001}", "timeoutMs")]
    [InlineData("{\"instanceId\":\"@id\",\"command\":\"ls\",\"env\":{\"1BAD\":\"x\"}}", "env")]
    [InlineData("{\"instanceId\":\"@id\",\"command\":\"ls\",\"workingDir\":\"@long\"}", "workingDir")]
    public async Task Bad_commands_are_400(string json, string field)
    {
        var id = await SeedInstanceAsync("target");
        var client = await As(BaseRole.Developer);
        var content = json.Replace("@id", id.ToString(), StringComparison.Ordinal).Replace("@long", new string('d', 513), StringComparison.Ordinal);

        var response = await client.PostAsync("/api/v1/commands", new StringContent(content, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Bulk_runs_everywhere_it_can_and_reports_per_instance_with_207()
    {
        var (online, agent) = await ConnectedAsync("bulk-online");
        await using var _ = agent;
        var offline = await SeedInstanceAsync("bulk-offline");
        var client = await As(BaseRole.Operator);

        var response = await client.PostJsonAsync("/api/v1/commands/bulk", new { instanceIds = new[] { online, offline }, command = "uptime" });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.MultiStatus);
        body.PropertyNames().ShouldBe(["batchId", "results", "summary"]);
        var results = body.GetProperty("results").EnumerateArray().ToDictionary(result => result.GetProperty("instanceId").GetGuid());
        results[online].GetProperty("success").GetBoolean().ShouldBeTrue();
        results[online].GetProperty("execution").GetProperty("batchId").GetGuid().ShouldBe(body.GetProperty("batchId").GetGuid());
        results[offline].GetProperty("success").GetBoolean().ShouldBeFalse();
        results[offline].GetProperty("error").GetString()!.ShouldContain("not connected");
        body.GetProperty("summary").GetProperty("succeeded").GetInt32().ShouldBe(1);
    }

    [Fact]
    public async Task Bulk_with_an_unknown_instance_is_404_before_anything_runs()
    {
        var (online, agent) = await ConnectedAsync("bulk-known");
        await using var _ = agent;
        var client = await As(BaseRole.Operator);

        await (await client.PostJsonAsync("/api/v1/commands/bulk", new { instanceIds = new[] { online, Guid.CreateVersion7() }, command = "uptime" }))
            .ShouldBeErrorAsync(HttpStatusCode.NotFound);

        agent.Dispatched.ShouldBeEmpty();
        await (await client.PostJsonAsync("/api/v1/commands/bulk", new { instanceIds = Array.Empty<Guid>(), command = "uptime" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_script_is_shipped_base64_to_its_interpreter()
    {
        var (id, agent) = await ConnectedAsync("scripted");
        await using var _ = agent;
        var client = await As(BaseRole.Developer);
        const string Script = "#!/usr/bin/env python3\nprint('hello')\n";

        var body = await (await client.PostJsonAsync("/api/v1/commands/script", new { instanceIds = new[] { id }, script = Script, interpreter = "python3" }))
            .ShouldBeJsonAsync(HttpStatusCode.MultiStatus);

        body.GetProperty("results")[0].GetProperty("execution").GetProperty("hasScript").GetBoolean().ShouldBeTrue();
        var dispatched = agent.Dispatched.Single();
        dispatched.GetProperty("command").GetString().ShouldBe("/bin/sh");
        dispatched.GetProperty("script").GetString().ShouldBe(Script);
        var env = dispatched.GetProperty("env").EnumerateArray().Select(item => item.GetString()!).ToList();
        env.ShouldContain("SINDRI_SCRIPT_INTERPRETER=python3");
        Encoding.UTF8.GetString(Convert.FromBase64String(env.Single(item => item.StartsWith("SINDRI_SCRIPT_B64=", StringComparison.Ordinal))["SINDRI_SCRIPT_B64=".Length..]))
            .ShouldBe(Script);
        (await Fixture.ScalarAsync<string>("SELECT script_content FROM fleet.command_executions")).ShouldBe(Script);
    }

    [Theory]
    [InlineData("{\"instanceIds\":[\"@id\"]}", "script")]
    [InlineData("{\"instanceIds\":[\"@id\"],\"script\":\"echo\",\"interpreter\":\"bash; rm -rf /\"}", "interpreter")]
    [InlineData("{\"script\":\"echo\"}", "instanceIds")]
    public async Task Bad_scripts_are_400(string json, string field)
    {
        var id = await SeedInstanceAsync("target");
        var client = await As(BaseRole.Developer);

        var response = await client.PostAsync("/api/v1/commands/script", new StringContent(json.Replace("@id", id.ToString(), StringComparison.Ordinal), Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task A_script_over_64_kib_is_400()
    {
        var id = await SeedInstanceAsync("target");
        var client = await As(BaseRole.Developer);

        await (await client.PostJsonAsync("/api/v1/commands/script", new { instanceIds = new[] { id }, script = new string('#', (64 * 1024) + 1) }))
            .ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task History_is_newest_first_filterable_and_paged()
    {
        var (id, agent) = await ConnectedAsync("historic");
        await using var _ = agent;
        var client = await As(BaseRole.Developer);
        foreach (var command in new[] { "one", "two", "three" })
        {
            await client.PostJsonAsync("/api/v1/commands", new { instanceId = id, command });
        }

        await Fixture.ExecuteAsync("UPDATE fleet.command_executions SET status = 'FAILED' WHERE command = 'two'");

        var body = await (await client.GetAsync("/api/v1/commands/history?pageSize=2")).ShouldBeJsonAsync();
        body.PropertyNames().ShouldBe(["executions", "data", "pagination"]);
        body.GetProperty("executions").EnumerateArray().Select(item => item.GetProperty("command").GetString()).ShouldBe(["three", "two"]);
        body.GetProperty("pagination").GetProperty("total").GetInt64().ShouldBe(3);
        var failed = await (await client.GetAsync($"/api/v1/commands/history?status=failed&instanceId={id}")).ShouldBeJsonAsync();
        failed.GetProperty("executions").EnumerateArray().Select(item => item.GetProperty("command").GetString()).ShouldBe(["two"]);
        await (await client.GetAsync("/api/v1/commands/history?status=LOST")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await client.GetAsync($"/api/v1/commands/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task The_watch_times_out_commands_left_running_by_a_replica_that_went_away()
    {
        var id = await SeedInstanceAsync("orphan");
        var execution = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.command_executions (id, instance_id, command, timeout_ms, status, dispatched_at)
            VALUES (@Id, @Instance, 'ls', 1000, 'RUNNING', now() - interval '1 minute')
            """,
            new { Id = execution, Instance = id });

        await Fixture.Services.GetRequiredService<AgentSilenceWatch>().TryRunAsync(CancellationToken.None);

        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.command_executions WHERE id = @Id", new { Id = execution })).ShouldBe("TIMEOUT");
    }
}
