using System.Text;
using Capstan.Features.Fleet.Commands;
using Capstan.Features.Tests.Fleet.Alerts;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Commands;

/// <summary>Commands through the pipeline: executed on one instance, many, or as a script, only where the agent is
/// connected and the caller may see the instance, with env values masked in storage and audit; then read and
/// listed.</summary>
public sealed class CommandHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private Task<long> ExecutionCountAsync() => Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.command_executions");

    private async Task<Guid> OnlineInstanceAsync(string name, Guid? team = null)
    {
        var instance = await InstanceAsync(name);
        await Fixture.OnlineAsync(instance, team: team);
        return instance;
    }

    [Fact]
    public async Task A_developer_runs_a_command_and_gets_the_agents_answer()
    {
        var dev = await Fixture.CreateUserAsync(BaseRole.Developer);
        var instance = await OnlineInstanceAsync("web-1");
        await using var agent = Fixture.AnswerCommands(instance);

        var run = await Fixture.SendAsAsync(dev, new ExecuteCommand.Command(
            instance, "echo", ["hi"], new Dictionary<string, string> { ["TOKEN"] = "env-secret-1" }, "/srv", 5000));

        (run.InstanceId, run.InstanceName, run.UserId, run.BatchId, run.Command, run.WorkingDir, run.TimeoutMs, run.HasScript)
            .ShouldBe((instance, "web-1", (Guid?)dev.Id, (Guid?)null, "echo", "/srv", 5000L, false));
        (run.Status, run.ExitCode, run.Stdout, run.DurationMs).ShouldBe(("SUCCEEDED", (long?)0, "ran echo", (long?)7));
        run.Args.ShouldBe(["hi"]);
        run.Env.GetProperty("TOKEN").GetString().ShouldBe("***");
        run.CorrelationId.ShouldBe(run.Id);
        (await Fixture.ScalarAsync<string>("SELECT env::text FROM fleet.command_executions WHERE id = @Id", new { run.Id })).ShouldBe("""{"TOKEN": "***"}""");
        var audit = (await Fixture.AuditAsync(instance.ToString(), "command.execute")).ShouldHaveSingleItem();
        (audit.ActorId, audit.ResourceName).ShouldBe(((Guid?)dev.Id, "web-1"));
        audit.Metadata.ShouldContain("TOKEN");
        audit.Metadata.ShouldNotContain("env-secret-1");
    }

    [Fact]
    public async Task A_failing_command_is_reported_failed()
    {
        var dev = await Fixture.CreateUserAsync(BaseRole.Developer);
        var instance = await OnlineInstanceAsync("web-1");
        await using var agent = Fixture.AnswerCommands(instance);

        var run = await Fixture.SendAsAsync(dev, new ExecuteCommand.Command(instance, "false", null, null, null, null));

        (run.Status, run.ExitCode, run.TimeoutMs, run.Args.Length).ShouldBe(("FAILED", (long?)1, 30_000L, 0));
    }

    [Fact]
    public async Task A_command_needs_a_connected_agent_on_an_instance_the_caller_sees()
    {
        var dev = await Fixture.CreateUserAsync(BaseRole.Developer);
        var never = await InstanceAsync("never-connected");
        var stale = await InstanceAsync("stale");
        await Fixture.OnlineAsync(stale, TimeSpan.FromHours(1));
        var destroyed = await InstanceAsync("destroyed", "DESTROYED");
        await Fixture.OnlineAsync(destroyed);
        var otherTeam = await OnlineInstanceAsync("other-team", Guid.CreateVersion7());

        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(dev, new ExecuteCommand.Command(never, "ls", null, null, null, null)));
        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(dev, new ExecuteCommand.Command(stale, "ls", null, null, null, null)));
        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(dev, new ExecuteCommand.Command(destroyed, "ls", null, null, null, null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(dev, new ExecuteCommand.Command(otherTeam, "ls", null, null, null, null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(dev, new ExecuteCommand.Command(Guid.CreateVersion7(), "ls", null, null, null, null)));

        (await ExecutionCountAsync()).ShouldBe(0);
        (await Fixture.AuditAsync(null, "command.execute")).ShouldBeEmpty();
    }

    [Fact]
    public async Task An_admin_sees_every_team_instance()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var otherTeam = await OnlineInstanceAsync("other-team", Guid.CreateVersion7());
        await using var agent = Fixture.AnswerCommands(otherTeam);

        var run = await Fixture.SendAsAsync(admin, new ExecuteCommand.Command(otherTeam, "uptime", null, null, null, null));

        (run.Status, run.Stdout).ShouldBe(("SUCCEEDED", "ran uptime"));
    }

    [Fact]
    public async Task Invalid_commands_are_refused_by_the_validator_and_nothing_is_dispatched()
    {
        var dev = await Fixture.CreateUserAsync(BaseRole.Developer);
        var instance = await OnlineInstanceAsync("web-1");
        ExecuteCommand.Command valid = new(instance, "ls", null, null, null, null);
        ExecuteCommand.Command[] invalid =
        [
            valid with { InstanceId = Guid.Empty },
            valid with { CommandLine = "" },
            valid with { CommandLine = new string('c', 4097) },
            valid with { Args = [.. Enumerable.Repeat("a", 65)] },
            valid with { Args = [new string('a', 1025)] },
            valid with { Env = new Dictionary<string, string> { ["1ABC"] = "v" } },
            valid with { Env = new Dictionary<string, string> { ["A-B"] = "v" } },
            valid with { Env = new Dictionary<string, string> { ["BIG"] = new string('v', 4097) } },
            valid with { WorkingDir = new string('w', 513) },
            valid with { TimeoutMs = 999 },
            valid with { TimeoutMs = 300_001 },
        ];

        foreach (var command in invalid)
        {
            await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(dev, command));
        }

        (await ExecutionCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task A_bulk_command_runs_where_agents_are_connected_and_reports_the_rest()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var first = await OnlineInstanceAsync("web-1");
        var second = await OnlineInstanceAsync("web-2");
        var offline = await InstanceAsync("web-3");
        await using var agent = Fixture.AnswerCommands(first, second);

        var result = await Fixture.SendAsAsync(op, new ExecuteBulkCommand.Command(
            [first, offline, second, first], "uptime", ["-p"], new Dictionary<string, string> { ["KEY"] = "bulk-secret" }, null, 5000));

        result.Summary.ShouldBe(new ExecuteBulkCommand.Summary(3, 2, 1));
        result.Results.Select(item => (item.InstanceId, item.Success)).ShouldBe([(first, true), (offline, false), (second, true)]);
        result.Results[1].Error.ShouldBe("Agent for instance 'web-3' is not connected");
        result.Results[1].Execution.ShouldBeNull();
        result.Results[0].Execution!.Stdout.ShouldBe("ran uptime");
        result.Results[2].Execution!.BatchId.ShouldBe(result.BatchId);
        var stored = await Fixture.QueryAsync<(Guid, Guid, string)>("SELECT instance_id, batch_id, status FROM fleet.command_executions");
        stored.ShouldBe([(first, result.BatchId, "SUCCEEDED"), (second, result.BatchId, "SUCCEEDED")], ignoreOrder: true);
        var audit = (await Fixture.AuditAsync(result.BatchId.ToString())).ShouldHaveSingleItem();
        (audit.Action, audit.ActorId).ShouldBe(("command.bulk", (Guid?)op.Id));
        audit.Metadata.ShouldNotContain("bulk-secret");
    }

    [Fact]
    public async Task A_bulk_command_an_agent_does_not_answer_times_out()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var silent = await OnlineInstanceAsync("silent");

        var result = await Fixture.SendAsAsync(op, new ExecuteBulkCommand.Command([silent], "sleep", ["60"], null, null, 1000));

        var item = result.Results.ShouldHaveSingleItem();
        (item.Success, item.Execution!.Status).ShouldBe((false, "TIMEOUT"));
        item.Error!.ShouldStartWith("Timed out: the agent did not answer");
        result.Summary.ShouldBe(new ExecuteBulkCommand.Summary(1, 0, 1));
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.command_executions")).ShouldBe("TIMEOUT");
    }

    [Fact]
    public async Task A_bulk_command_naming_an_unknown_or_hidden_instance_dispatches_nothing()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var online = await OnlineInstanceAsync("web-1");
        var hidden = await OnlineInstanceAsync("other-team", Guid.CreateVersion7());

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(op, new ExecuteBulkCommand.Command([online, Guid.CreateVersion7()], "ls", null, null, null, null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(op, new ExecuteBulkCommand.Command([online, hidden], "ls", null, null, null, null)));

        (await ExecutionCountAsync()).ShouldBe(0);
        (await Fixture.AuditAsync(null, "command.bulk")).ShouldBeEmpty();
    }

    [Fact]
    public async Task Invalid_bulk_commands_are_refused_by_the_validator()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var instance = await OnlineInstanceAsync("web-1");
        ExecuteBulkCommand.Command valid = new([instance], "ls", null, null, null, null);
        ExecuteBulkCommand.Command[] invalid =
        [
            valid with { InstanceIds = null },
            valid with { InstanceIds = [] },
            valid with { InstanceIds = [.. Enumerable.Range(0, 51).Select(_ => Guid.CreateVersion7())] },
            valid with { InstanceIds = [instance, Guid.Empty] },
            valid with { CommandLine = " " },
            valid with { Args = [new string('a', 1025)] },
            valid with { Env = new Dictionary<string, string> { [""] = "v" } },
            valid with { WorkingDir = new string('w', 513) },
            valid with { TimeoutMs = 500 },
        ];

        foreach (var command in invalid)
        {
            await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, command));
        }

        (await ExecutionCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task A_script_is_sent_encoded_to_its_interpreter_and_stored_with_the_execution()
    {
        var dev = await Fixture.CreateUserAsync(BaseRole.Developer);
        var instance = await OnlineInstanceAsync("web-1");
        var offline = await InstanceAsync("web-2");
        await using var agent = Fixture.AnswerCommands(instance);
        const string Script = "echo héllo\nexit 0\n";

        var result = await Fixture.SendAsAsync(dev, new ExecuteScript.Command([instance, offline], Script, "python3", null));

        result.Summary.ShouldBe(new ExecuteScript.Summary(2, 1, 1));
        var run = result.Results[0].Execution!;
        (run.Command, run.HasScript, run.TimeoutMs, run.BatchId, run.Status).ShouldBe(("/bin/sh", true, 60_000L, (Guid?)result.BatchId, "SUCCEEDED"));
        run.Args.ShouldBe(["-c", ExecuteScript.Launcher]);
        run.Env.GetProperty("SINDRI_SCRIPT_B64").GetString().ShouldBe("***");
        result.Results[1].Error.ShouldBe("Agent for instance 'web-2' is not connected");
        (await Fixture.ScalarAsync<string>("SELECT script_content FROM fleet.command_executions WHERE id = @Id", new { run.Id })).ShouldBe(Script);
        var audit = (await Fixture.AuditAsync(result.BatchId.ToString(), "command.script")).ShouldHaveSingleItem();
        audit.Metadata.ShouldContain("\"interpreter\": \"python3\"");
        audit.Metadata.ShouldContain($"\"scriptBytes\": {Encoding.UTF8.GetByteCount(Script)}");
    }

    [Fact]
    public async Task Invalid_scripts_are_refused_and_an_unknown_instance_is_not_found()
    {
        var dev = await Fixture.CreateUserAsync(BaseRole.Developer);
        var instance = await OnlineInstanceAsync("web-1");
        ExecuteScript.Command valid = new([instance], "echo hi", null, null);
        ExecuteScript.Command[] invalid =
        [
            valid with { InstanceIds = [] },
            valid with { InstanceIds = [Guid.Empty] },
            valid with { InstanceIds = [.. Enumerable.Range(0, 51).Select(_ => Guid.CreateVersion7())] },
            valid with { Script = "" },
            valid with { Script = new string('s', (64 * 1024) + 1) },
            valid with { Interpreter = "bash; rm -rf /" },
            valid with { Interpreter = "/bin/" + new string('b', 256) },
            valid with { TimeoutMs = 300_001 },
        ];

        foreach (var command in invalid)
        {
            await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(dev, command));
        }

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(dev, valid with { InstanceIds = [instance, Guid.CreateVersion7()] }));
        (await ExecutionCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task An_execution_is_read_by_id_where_its_instance_is_visible()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var instance = await InstanceAsync("web-1");
        var hiddenInstance = await InstanceAsync("other-team");
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET team_id = @Team WHERE id = @Id", new { Team = Guid.CreateVersion7(), Id = hiddenInstance });
        var execution = await Fixture.ExecutionAsync(instance, viewer.Id, "ls", "FAILED");
        var hidden = await Fixture.ExecutionAsync(hiddenInstance, admin.Id, "ls");

        var read = await Fixture.SendAsAsync(viewer, new GetCommand.Query(execution));

        (read.Id, read.InstanceId, read.InstanceName, read.UserId, read.Command, read.Status, read.Stdout).ShouldBe(
            (execution, instance, "web-1", (Guid?)viewer.Id, "ls", "FAILED", "out"));
        read.Args.ShouldBe(["-l"]);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetCommand.Query(hidden)));
        (await Fixture.SendAsAsync(admin, new GetCommand.Query(hidden))).InstanceName.ShouldBe("other-team");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetCommand.Query(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetCommand.Query(Guid.Empty)));
    }

    [Fact]
    public async Task The_history_is_newest_first_filtered_paged_and_limited_to_visible_instances()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var web = await InstanceAsync("web");
        var db = await InstanceAsync("db");
        var hiddenInstance = await InstanceAsync("other-team");
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET team_id = @Team WHERE id = @Id", new { Team = Guid.CreateVersion7(), Id = hiddenInstance });
        var batch = Guid.CreateVersion7();
        var now = DateTime.UtcNow;
        var e1 = await Fixture.ExecutionAsync(web, viewer.Id, "ls", "SUCCEEDED", batch, now.AddMinutes(-5));
        var e2 = await Fixture.ExecutionAsync(db, viewer.Id, "ls", "FAILED", batch, now.AddMinutes(-4));
        var e3 = await Fixture.ExecutionAsync(web, other.Id, "ps", "TIMEOUT", null, now.AddMinutes(-3));
        var e4 = await Fixture.ExecutionAsync(db, null, "df", "SUCCEEDED", null, now.AddMinutes(-2));
        await Fixture.ExecutionAsync(hiddenInstance, viewer.Id, "ls", "SUCCEEDED", batch, now.AddMinutes(-1));

        async Task<List<Guid>> IdsAsync(Guid? instance = null, string? status = null, Guid? user = null, Guid? batchId = null) =>
            [.. (await Fixture.SendAsAsync(viewer, new ListCommandHistory.Query(instance, status, user, batchId, new PageRequest(0, 20)))).Executions.Select(execution => execution.Id)];

        (await IdsAsync()).ShouldBe([e4, e3, e2, e1]);
        (await IdsAsync(instance: web)).ShouldBe([e3, e1]);
        (await IdsAsync(status: "succeeded")).ShouldBe([e4, e1]);
        (await IdsAsync(user: viewer.Id)).ShouldBe([e2, e1]);
        (await IdsAsync(batchId: batch)).ShouldBe([e2, e1]);

        var page = await Fixture.SendAsAsync(viewer, new ListCommandHistory.Query(null, null, null, null, new PageRequest(1, 2)));
        page.Executions.Select(execution => execution.Id).ShouldBe([e3, e2]);
        (page.Pagination.Total, page.Pagination.HasMore).ShouldBe((4L, true));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListCommandHistory.Query(null, "DONE", null, null, new PageRequest(0, 20))));
    }
}
