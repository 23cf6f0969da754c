using System.Text.Json.Nodes;
using Capstan.Features.Fleet.Drift;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Drift;

/// <summary>The drift commands through the pipeline: a check on demand, resolving an event, and a remediation's life
/// (made once per event, dismissed, run as a command on the instance), each refused on other teams' instances.</summary>
public sealed class DriftCommandHandlerTests(FleetHandlerFixture fixture) : DriftSliceHandlerTest(fixture)
{
    private static readonly DateTime T0 = new(2026, 3, 1, 10, 0, 0, DateTimeKind.Utc);

    private static JsonObject Reported(string json) => JsonNode.Parse(json)!.AsObject();

    /// <summary>An open event of <paramref name="instance"/> with the command <c>sindri fix</c>.</summary>
    private async Task<Guid> OpenEventAsync(Guid instance, string? command = "sindri fix", DateTime? resolvedAt = null) =>
        await EventAsync(await SnapshotAsync(instance, T0), instance, "region", T0, "HIGH", command, resolvedAt);

    private async Task<string> StatusOfAsync(Guid remediation) =>
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.drift_remediations WHERE id = @Id", new { Id = remediation }))!;

    [Fact]
    public async Task A_check_records_a_snapshot_and_one_event_per_new_drift()
    {
        var instance = await DeployedAsync();
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        var result = await Fixture.SendAsAsync(operatorUser, new TriggerDriftCheck.Command(instance, Reported("""{"env":{"LOG_LEVEL":"info"}}""")));

        (result.DriftStatus, result.Findings, result.NewEvents, result.Cleared).ShouldBe(("DRIFTED", 5, 5, 0));
        (await Fixture.QueryAsync<(Guid InstanceId, string Status, string TriggeredBy)>("SELECT instance_id, drift_status, triggered_by FROM fleet.config_snapshots WHERE id = @Id", new { Id = result.SnapshotId }))
            .ShouldBe([(instance, "DRIFTED", $"user:{operatorUser.Id}")]);
        (await Fixture.QueryAsync<(string Path, string Severity, string? Declared, string? Actual)>(
                "SELECT field_path, severity, declared_val, actual_val FROM fleet.drift_events WHERE snapshot_id = @Id ORDER BY field_path", new { Id = result.SnapshotId }))
            .ShouldBe(
            [
                ("env.API_TOKEN", "HIGH", "<redacted>", null),
                ("env.LOG_LEVEL", "MEDIUM", "debug", "info"),
                ("extensions.nodejs.version", "MEDIUM", "22", "20"),
                ("extensions.python.present", "HIGH", "installed", "missing"),
                ("extensions.rust.declared", "LOW", null, "1.80"),
            ]);
        (await AuditAsync("drift.check")).ShouldBe([$"instance {instance}"]);

        // Found again: no new event; fixed by hand: the LOG_LEVEL drift clears.
        (await Fixture.SendAsAsync(operatorUser, new TriggerDriftCheck.Command(instance, Reported("""{"env":{"LOG_LEVEL":"info"}}""")))).ShouldBe(
            new TriggerDriftCheck.Response(await LatestSnapshotAsync(instance), "DRIFTED", 5, 0, 0));
        var fixedEnv = await Fixture.SendAsAsync(operatorUser, new TriggerDriftCheck.Command(instance, Reported("""{"env":{"LOG_LEVEL":"debug"}}""")));
        (fixedEnv.Findings, fixedEnv.NewEvents, fixedEnv.Cleared).ShouldBe((4, 0, 1));
        (await Fixture.ScalarAsync<string>("SELECT resolved_by FROM fleet.drift_events WHERE field_path = 'env.LOG_LEVEL'")).ShouldBe("system:drift-cleared");
    }

    private Task<Guid> LatestSnapshotAsync(Guid instance) =>
        Fixture.ScalarAsync<Guid>("SELECT id FROM fleet.config_snapshots WHERE instance_id = @Id ORDER BY taken_at DESC, id DESC LIMIT 1", new { Id = instance });

    [Fact]
    public async Task A_check_of_an_instance_as_registered_is_clean()
    {
        var instance = await DriftInstanceAsync("plain");
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        var result = await Fixture.SendAsAsync(operatorUser, new TriggerDriftCheck.Command(instance, null));

        (result.DriftStatus, result.Findings, result.NewEvents, result.Cleared).ShouldBe(("CLEAN", 0, 0, 0));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.drift_events")).ShouldBe(0);
    }

    [Fact]
    public async Task A_check_of_an_unknown_or_hidden_instance_is_not_found_and_records_nothing()
    {
        var hidden = await DeployedAsync("hidden", OtherTeam);
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new TriggerDriftCheck.Command(hidden, null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new TriggerDriftCheck.Command(Guid.CreateVersion7(), null)));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(operatorUser, new TriggerDriftCheck.Command(Guid.Empty, null)));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.config_snapshots")).ShouldBe(0);
    }

    [Fact]
    public async Task An_event_resolves_once_in_the_callers_name()
    {
        var instance = await DriftInstanceAsync("web");
        var id = await OpenEventAsync(instance);
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        var resolved = await Fixture.SendAsAsync(operatorUser, new ResolveDriftEvent.Command(id));

        (resolved.Id, resolved.InstanceName, resolved.Resolved, resolved.ResolvedBy).ShouldBe((id, "web", true, $"user:{operatorUser.Id}"));
        resolved.ResolvedAt.ShouldNotBeNull();
        (await Fixture.ScalarAsync<string>("SELECT resolved_by FROM fleet.drift_events WHERE id = @Id", new { Id = id })).ShouldBe($"user:{operatorUser.Id}");
        (await AuditAsync("drift.resolve")).ShouldBe([$"instance {instance} web"]);

        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(operatorUser, new ResolveDriftEvent.Command(id)))).Message.ShouldBe("Drift event is already resolved");
    }

    [Fact]
    public async Task Resolving_an_unknown_or_hidden_event_is_not_found()
    {
        var hidden = await OpenEventAsync(await DriftInstanceAsync("hidden", OtherTeam));
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new ResolveDriftEvent.Command(hidden)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new ResolveDriftEvent.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(operatorUser, new ResolveDriftEvent.Command(Guid.Empty)));

        (await Fixture.ScalarAsync<DateTime?>("SELECT resolved_at FROM fleet.drift_events WHERE id = @Id", new { Id = hidden })).ShouldBeNull();
    }

    [Fact]
    public async Task An_event_gets_one_pending_remediation_of_its_suggested_fix()
    {
        var instance = await DriftInstanceAsync("web");
        var id = await OpenEventAsync(instance);
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        var created = await Fixture.SendAsAsync(operatorUser, new CreateRemediation.Command(id));
        var again = await Fixture.SendAsAsync(operatorUser, new CreateRemediation.Command(id));

        created.Created.ShouldBeTrue();
        var remediation = created.Remediation;
        (remediation.DriftEventId, remediation.InstanceId, remediation.Action, remediation.Command, remediation.Status, remediation.TriggeredBy, remediation.CommandExecutionId)
            .ShouldBe((id, instance, "Fix region", (string?)"sindri fix", "PENDING", (Guid?)operatorUser.Id, (Guid?)null));
        again.ShouldBe(new CreateRemediation.Response(remediation, false));
        (await Fixture.QueryAsync<Guid>("SELECT id FROM fleet.drift_remediations")).ShouldBe([remediation.Id]);
        (await AuditAsync("drift.remediation.create")).ShouldBe([$"instance {instance} web"]);
    }

    [Fact]
    public async Task A_resolved_event_gets_no_new_remediation_but_keeps_the_one_it_has()
    {
        var instance = await DriftInstanceAsync("web");
        var resolved = await OpenEventAsync(instance, resolvedAt: T0.AddHours(1));
        var withRemediation = await OpenEventAsync(instance, resolvedAt: T0.AddHours(1));
        var existing = await RemediationAsync(withRemediation, instance, "SUCCEEDED");
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(operatorUser, new CreateRemediation.Command(resolved)))).Message.ShouldBe("Drift event is already resolved");
        var kept = await Fixture.SendAsAsync(operatorUser, new CreateRemediation.Command(withRemediation));

        (kept.Remediation.Id, kept.Remediation.Status, kept.Created).ShouldBe((existing, "SUCCEEDED", false));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.drift_remediations")).ShouldBe(1);
    }

    [Fact]
    public async Task A_remediation_of_an_unknown_or_hidden_event_is_not_found()
    {
        var hidden = await OpenEventAsync(await DriftInstanceAsync("hidden", OtherTeam));
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new CreateRemediation.Command(hidden)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new CreateRemediation.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(operatorUser, new CreateRemediation.Command(Guid.Empty)));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.drift_remediations")).ShouldBe(0);
    }

    [Fact]
    public async Task Pending_and_failed_remediations_can_be_dismissed_once()
    {
        var instance = await DriftInstanceAsync("web");
        var pending = await RemediationAsync(await OpenEventAsync(instance), instance);
        var failed = await RemediationAsync(await OpenEventAsync(instance), instance, "FAILED");
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        var dismissed = await Fixture.SendAsAsync(operatorUser, new DismissRemediation.Command(pending));
        var again = await Fixture.SendAsAsync(operatorUser, new DismissRemediation.Command(pending));

        (dismissed.Id, dismissed.Status).ShouldBe((pending, "DISMISSED"));
        dismissed.CompletedAt.ShouldNotBeNull();
        again.ShouldBe(dismissed);
        (await Fixture.SendAsAsync(operatorUser, new DismissRemediation.Command(failed))).Status.ShouldBe("DISMISSED");
        (await StatusOfAsync(pending)).ShouldBe("DISMISSED");
        (await AuditAsync("drift.remediation.dismiss")).ShouldBe([$"instance {instance}", $"instance {instance}"]);
    }

    [Fact]
    public async Task A_running_or_succeeded_remediation_cannot_be_dismissed()
    {
        var instance = await DriftInstanceAsync("web");
        var running = await RemediationAsync(await OpenEventAsync(instance), instance, "IN_PROGRESS");
        var succeeded = await RemediationAsync(await OpenEventAsync(instance), instance, "SUCCEEDED");
        var hidden = await DriftInstanceAsync("hidden", OtherTeam);
        var other = await RemediationAsync(await OpenEventAsync(hidden), hidden);
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(operatorUser, new DismissRemediation.Command(running)))).Message
            .ShouldBe("Remediation is IN_PROGRESS and cannot be dismissed");
        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(operatorUser, new DismissRemediation.Command(succeeded)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new DismissRemediation.Command(other)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new DismissRemediation.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(operatorUser, new DismissRemediation.Command(Guid.Empty)));

        ((await StatusOfAsync(running)), (await StatusOfAsync(succeeded)), (await StatusOfAsync(other))).ShouldBe(("IN_PROGRESS", "SUCCEEDED", "PENDING"));
    }

    /// <summary>Marks the instance's agent connected, sends the execution, and answers the command it dispatches the way
    /// an agent's result would (status, exit code, output) once it is committed.</summary>
    private async Task<RemediationView> ExecuteAnsweredAsync(TestUser user, Guid instance, Guid remediation, string status, int exitCode, string stdout, string stderr)
    {
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET agent_connection_id = platform.uuid_v7(), agent_connected_at = now() WHERE id = @Id", new { Id = instance });
        var execution = Fixture.SendAsAsync(user, new ExecuteRemediation.Command(remediation));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!execution.IsCompleted && DateTime.UtcNow < deadline)
        {
            var answered = await Fixture.ExecuteAsync(
                """
                UPDATE fleet.command_executions SET status = @Status, exit_code = @ExitCode, stdout = @Stdout, stderr = @Stderr, completed_at = now(), duration_ms = 12
                WHERE instance_id = @Instance AND status = 'RUNNING'
                """,
                new { Instance = instance, Status = status, ExitCode = exitCode, Stdout = stdout, Stderr = stderr });
            if (answered > 0)
            {
                break;
            }

            await Task.Delay(50);
        }

        return await execution;
    }

    [Fact]
    public async Task A_remediation_runs_its_command_on_the_instance_and_resolves_the_drift_when_it_succeeds()
    {
        var instance = await DriftInstanceAsync("web");
        var driftEvent = await OpenEventAsync(instance);
        var remediation = await RemediationAsync(driftEvent, instance, command: "sindri extension install python");
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        var executed = await ExecuteAnsweredAsync(operatorUser, instance, remediation, "SUCCEEDED", 0, "installed", string.Empty);

        (executed.Id, executed.Status, executed.Output, executed.Error, executed.TriggeredBy).ShouldBe((remediation, "SUCCEEDED", (string?)"installed", (string?)null, (Guid?)operatorUser.Id));
        executed.StartedAt.ShouldNotBeNull();
        executed.CompletedAt.ShouldNotBeNull();
        var command = (await Fixture.QueryAsync<(Guid Id, string Command, string Args, Guid? UserId)>(
            "SELECT id, command, array_to_string(args, '|'), user_id FROM fleet.command_executions")).ShouldHaveSingleItem();
        command.ShouldBe((executed.CommandExecutionId!.Value, "/bin/sh", "-c|sindri extension install python", (Guid?)operatorUser.Id));
        (await Fixture.ScalarAsync<string>("SELECT resolved_by FROM fleet.drift_events WHERE id = @Id", new { Id = driftEvent })).ShouldBe($"remediation:{remediation}");
        (await AuditAsync("drift.remediation.execute")).ShouldBe([$"instance {instance} web"]);
    }

    [Fact]
    public async Task A_failed_remediation_keeps_the_drift_open_and_can_run_again()
    {
        var instance = await DriftInstanceAsync("web");
        var driftEvent = await OpenEventAsync(instance);
        var remediation = await RemediationAsync(driftEvent, instance);
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        var failed = await ExecuteAnsweredAsync(operatorUser, instance, remediation, "FAILED", 2, string.Empty, "boom");

        (failed.Status, failed.Error).ShouldBe(("FAILED", (string?)"Exit code 2: boom"));
        (await Fixture.ScalarAsync<DateTime?>("SELECT resolved_at FROM fleet.drift_events WHERE id = @Id", new { Id = driftEvent })).ShouldBeNull();

        var retried = await ExecuteAnsweredAsync(operatorUser, instance, remediation, "SUCCEEDED", 0, "fixed", string.Empty);
        (retried.Status, retried.Output, retried.Error).ShouldBe(("SUCCEEDED", (string?)"fixed", (string?)null));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.command_executions")).ShouldBe(2);
    }

    [Fact]
    public async Task A_remediation_is_not_run_without_an_agent_a_command_or_a_runnable_status()
    {
        var instance = await DriftInstanceAsync("web");
        var pending = await RemediationAsync(await OpenEventAsync(instance), instance);
        var manual = await RemediationAsync(await OpenEventAsync(instance), instance, command: null);
        var succeeded = await RemediationAsync(await OpenEventAsync(instance), instance, "SUCCEEDED");
        var dismissed = await RemediationAsync(await OpenEventAsync(instance), instance, "DISMISSED");
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(operatorUser, new ExecuteRemediation.Command(pending)))).Message
            .ShouldBe("Agent for instance 'web' is not connected: the remediation was not run and stays PENDING; retry once the agent is back");
        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(operatorUser, new ExecuteRemediation.Command(manual)))).Message
            .ShouldBe("Remediation has no command: manual action required (Fix it); resolve the drift event once done");
        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(operatorUser, new ExecuteRemediation.Command(succeeded)))).Message
            .ShouldBe("Remediation is SUCCEEDED and cannot be executed");
        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(operatorUser, new ExecuteRemediation.Command(dismissed)));

        (await StatusOfAsync(pending)).ShouldBe("PENDING");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.command_executions")).ShouldBe(0);
        (await AuditAsync("drift.remediation.execute")).ShouldBeEmpty();
    }

    [Fact]
    public async Task Executing_an_unknown_or_hidden_remediation_is_not_found()
    {
        var hidden = await DriftInstanceAsync("hidden", OtherTeam);
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET agent_connection_id = platform.uuid_v7(), agent_connected_at = now() WHERE id = @Id", new { Id = hidden });
        var other = await RemediationAsync(await OpenEventAsync(hidden), hidden);
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new ExecuteRemediation.Command(other)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new ExecuteRemediation.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(operatorUser, new ExecuteRemediation.Command(Guid.Empty)));

        (await StatusOfAsync(other)).ShouldBe("PENDING");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.command_executions")).ShouldBe(0);
    }
}
