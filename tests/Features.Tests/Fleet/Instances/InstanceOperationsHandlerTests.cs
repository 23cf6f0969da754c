using Capstan.Features.Fleet.Instances;
using Capstan.Features.Tests.Fleet.Security;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Instances;

/// <summary>Operating on instances: volume backups, bulk suspend/resume/destroy with a result per instance, and the
/// actions each status allows.</summary>
public sealed class InstanceOperationsHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private Task<string?> StatusAsync(Guid id) => Fixture.ScalarAsync<string>("SELECT status FROM fleet.instances WHERE id = @Id", new { Id = id });

    [Fact]
    public async Task A_backup_is_recorded_pending_with_a_backup_event_and_an_audit_row()
    {
        var box = await InstanceAsync("box", "SUSPENDED");
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        var named = await Fixture.SendAsAsync(operatorUser, new BackupInstance.Command(box, "nightly-1.0", "zstd"));
        var defaulted = await Fixture.SendAsAsync(operatorUser, new BackupInstance.Command(box, null, null));

        (named.Message, named.InstanceId, named.Label, named.Compression, named.Status).ShouldBe(("Volume backup initiated", box, "nightly-1.0", "zstd", "pending"));
        defaulted.Compression.ShouldBe("gzip");
        defaulted.Label.ShouldBe($"backup-box-{new DateTimeOffset(defaulted.CreatedAt).ToUnixTimeMilliseconds()}");
        (await Fixture.QueryAsync<(Guid Id, string Label, string Compression, string Status, Guid By)>(
                "SELECT id, label, compression, status, requested_by FROM fleet.instance_backups ORDER BY label DESC"))
            .ShouldBe([(named.BackupId, "nightly-1.0", "zstd", "pending", operatorUser.Id), (defaulted.BackupId, defaulted.Label, "gzip", "pending", operatorUser.Id)]);
        (await Fixture.QueryAsync<string>("SELECT metadata->>'backupId' FROM fleet.instance_events WHERE instance_id = @Box AND event_type = 'BACKUP' ORDER BY occurred_at", new { Box = box }))
            .ShouldBe([named.BackupId.ToString(), defaulted.BackupId.ToString()]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'instance.backup' AND resource_id = @Id", new { Id = box.ToString() })).ShouldBe(2);
        (await StatusAsync(box)).ShouldBe("SUSPENDED");
    }

    [Fact]
    public async Task A_backup_of_a_stopped_instance_is_a_conflict_and_an_unknown_or_hidden_one_is_not_found()
    {
        var stopped = await InstanceAsync("stopped", "STOPPED");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(operatorUser, new BackupInstance.Command(stopped, null, null))))
            .Message.ShouldBe("Instance 'stopped' cannot be backed up: current status is STOPPED");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new BackupInstance.Command(hidden, null, null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new BackupInstance.Command(Guid.CreateVersion7(), null, null)));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instance_backups")).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instance_events")).ShouldBe(0);
    }

    [Theory]
    [InlineData(false, null, null)]
    [InlineData(true, "has space", null)]
    [InlineData(true, "x", "lz4")]
    [InlineData(true, "x", "GZIP")]
    public async Task A_backup_rejects_an_empty_id_a_bad_label_or_an_unknown_compression(bool withId, string? label, string? compression)
    {
        var box = await InstanceAsync("box");
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, new BackupInstance.Command(withId ? box : Guid.Empty, label, compression)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, new BackupInstance.Command(box, new string('a', 129), null)));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instance_backups")).ShouldBe(0);
    }

    [Fact]
    public async Task A_bulk_action_moves_each_instance_it_can_and_reports_the_others()
    {
        var first = await InstanceAsync("first");
        var second = await InstanceAsync("second");
        var suspended = await InstanceAsync("already", "SUSPENDED");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var unknown = Guid.CreateVersion7();
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        var response = await Fixture.SendAsAsync(operatorUser, new BulkInstanceAction.Command([first, suspended, second, first, hidden, unknown], " Suspend ", null));

        (response.Message, response.Action, response.Summary).ShouldBe(("Bulk suspend completed", "suspend", new BulkInstanceAction.Summary(5, 2, 3)));
        response.Results.ShouldBe(
        [
            new BulkInstanceAction.ItemResult(first, "first", true, null, "SUSPENDED", null),
            new BulkInstanceAction.ItemResult(suspended, "already", false, "Instance 'already' cannot be suspended: current status is SUSPENDED", null, null),
            new BulkInstanceAction.ItemResult(second, "second", true, null, "SUSPENDED", null),
            new BulkInstanceAction.ItemResult(hidden, null, false, $"Instance '{hidden}' not found", null, null),
            new BulkInstanceAction.ItemResult(unknown, null, false, $"Instance '{unknown}' not found", null, null),
        ]);
        (await StatusAsync(first)).ShouldBe("SUSPENDED");
        (await StatusAsync(second)).ShouldBe("SUSPENDED");
        (await StatusAsync(hidden)).ShouldBe("RUNNING");
        (await Fixture.QueryAsync<(string Name, bool Bulk, string From)>(
                "SELECT resource_name, (metadata->>'bulk')::boolean, metadata->>'from' FROM identity.audit_log WHERE action = 'instance.suspend' ORDER BY resource_name"))
            .ShouldBe([("first", true, "RUNNING"), ("second", true, "RUNNING")]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instance_events WHERE event_type = 'SUSPEND'")).ShouldBe(2);
    }

    [Fact]
    public async Task A_bulk_destroy_with_volume_backup_records_a_backup_per_destroyed_instance()
    {
        var box = await InstanceAsync("box");
        var stopped = await InstanceAsync("stopped", "STOPPED");
        var deploying = await InstanceAsync("deploying", "DEPLOYING");
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        var response = await Fixture.SendAsAsync(operatorUser, new BulkInstanceAction.Command([box, stopped, deploying], "destroy", new BulkInstanceAction.Options(true)));

        response.Summary.ShouldBe(new BulkInstanceAction.Summary(3, 2, 1));
        response.Results.Where(result => result.Success).Select(result => result.NewStatus).ShouldBe(["DESTROYED", "DESTROYED"]);
        var backups = await Fixture.QueryAsync<(Guid Id, Guid Instance, string Compression)>("SELECT id, instance_id, compression FROM fleet.instance_backups ORDER BY created_at, label");
        backups.Select(backup => backup.Id).Order().ShouldBe(response.Results.Where(result => result.Success).Select(result => result.BackupId!.Value).Order());
        backups.Select(backup => backup.Instance).Order().ShouldBe(new[] { box, stopped }.Order());
        (await StatusAsync(deploying)).ShouldBe("DEPLOYING");
    }

    [Theory]
    [InlineData(0, "suspend")]
    [InlineData(51, "suspend")]
    [InlineData(-1, "suspend")]
    [InlineData(1, "reboot")]
    [InlineData(1, "")]
    public async Task A_bulk_action_rejects_no_ids_too_many_an_empty_id_or_an_unknown_action(int count, string action)
    {
        var box = await InstanceAsync("box");
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        Guid[] ids = count < 0 ? [box, Guid.Empty] : [.. Enumerable.Range(0, count).Select(index => index == 0 ? box : Guid.CreateVersion7())];

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, new BulkInstanceAction.Command(ids, action, null)));
        (await StatusAsync(box)).ShouldBe("RUNNING");
    }

    [Theory]
    [InlineData("RUNNING", new[] { "suspend", "destroy", "backup" })]
    [InlineData("SUSPENDED", new[] { "resume", "destroy", "backup" })]
    [InlineData("ERROR", new[] { "resume", "destroy" })]
    [InlineData("DESTROYING", new[] { "destroy" })]
    [InlineData("DESTROYED", new string[0])]
    public async Task The_lifecycle_lists_the_actions_of_the_current_status(string status, string[] actions)
    {
        var box = await InstanceAsync("box", status);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var lifecycle = await Fixture.SendAsAsync(viewer, new GetInstanceLifecycle.Query(box));

        (lifecycle.InstanceId, lifecycle.Name, lifecycle.Status).ShouldBe((box, "box", status));
        lifecycle.AvailableActions.ShouldBe(actions);
    }

    [Fact]
    public async Task The_lifecycle_of_an_unknown_or_hidden_instance_is_not_found_and_an_empty_id_is_invalid()
    {
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetInstanceLifecycle.Query(hidden)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetInstanceLifecycle.Query(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetInstanceLifecycle.Query(Guid.Empty)));
    }
}
