using System.Text.Json;
using Capstan.Features.Fleet.Agents;
using Capstan.Features.Fleet.Metrics;
using Capstan.Features.Tests.Fleet.Alerts;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Agents;

/// <summary>What the agent socket sends through the pipeline, as the owner of the agent's API key (a viewer, as in
/// the socket's HTTP tests): finding the instance, connecting and disconnecting, and recording events, metric
/// snapshots and backup results.</summary>
public sealed class AgentHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private Task<TestUser> AgentKeyOwnerAsync() => Fixture.CreateUserAsync(BaseRole.Viewer);

    private Task<List<(string EventType, Guid? ActorId, string Metadata)>> EventsAsync(Guid instance) =>
        Fixture.QueryAsync<(string EventType, Guid? ActorId, string Metadata)>(
            "SELECT event_type, actor_id, metadata::text FROM fleet.instance_events WHERE instance_id = @Id ORDER BY occurred_at, id", new { Id = instance });

    private Task<long> AuditCountAsync() => Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log");

    private async Task<Guid> BackupAsync(Guid instance, string status = "pending")
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.instance_backups (id, instance_id, label, compression, status) VALUES (@Id, @Instance, 'nightly', 'gzip', @Status)",
            new { Id = id, Instance = instance, Status = status });
        return id;
    }

    [Fact]
    public async Task The_agent_finds_its_instance_by_id_or_by_live_name()
    {
        var agent = await AgentKeyOwnerAsync();
        await InstanceAsync("web-1", "DESTROYED");
        var live = await InstanceAsync("web-1", "STOPPED");

        (await Fixture.SendAsAsync(agent, new FindAgentInstance.Query(live.ToString()))).ShouldBe(new FindAgentInstance.Found(live, "web-1"));
        (await Fixture.SendAsAsync(agent, new FindAgentInstance.Query(" web-1 "))).ShouldBe(new FindAgentInstance.Found(live, "web-1"));
    }

    [Fact]
    public async Task Destroyed_unknown_and_other_teams_instances_are_not_found_by_the_agent()
    {
        var agent = await AgentKeyOwnerAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var destroyed = await InstanceAsync("gone", "DESTROYED");
        var teamOwned = await InstanceAsync("team-box");
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET team_id = @Team WHERE id = @Id", new { Team = Guid.CreateVersion7(), Id = teamOwned });

        (await Fixture.SendAsAsync(agent, new FindAgentInstance.Query(destroyed.ToString()))).ShouldBeNull();
        (await Fixture.SendAsAsync(agent, new FindAgentInstance.Query("gone"))).ShouldBeNull();
        (await Fixture.SendAsAsync(agent, new FindAgentInstance.Query("nobody-here"))).ShouldBeNull();
        (await Fixture.SendAsAsync(agent, new FindAgentInstance.Query(Guid.CreateVersion7().ToString()))).ShouldBeNull();
        (await Fixture.SendAsAsync(agent, new FindAgentInstance.Query("team-box"))).ShouldBeNull();
        (await Fixture.SendAsAsync(admin, new FindAgentInstance.Query("team-box"))).ShouldBe(new FindAgentInstance.Found(teamOwned, "team-box"));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new FindAgentInstance.Query(" ")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new FindAgentInstance.Query(new string('n', 129))));
    }

    [Fact]
    public async Task Connecting_records_the_socket_brings_a_stopped_instance_up_and_audits()
    {
        var agent = await AgentKeyOwnerAsync();
        var instance = await InstanceAsync("web-1", "STOPPED");
        var connection = Guid.CreateVersion7();

        var connected = await Fixture.SendAsAsync(agent, new ConnectAgent.Command(instance, connection, "replica-a"));

        connected.ShouldBe(new ConnectAgent.Connected(instance, "web-1", "RUNNING"));
        var stored = await Fixture.QueryAsync<(Guid, string, string, bool)>(
            "SELECT agent_connection_id, agent_replica, status, agent_connected_at > now() - interval '1 minute' FROM fleet.instances WHERE id = @Id", new { Id = instance });
        stored.ShouldBe([(connection, "replica-a", "RUNNING", true)]);
        var connect = (await EventsAsync(instance)).ShouldHaveSingleItem();
        (connect.EventType, connect.ActorId).ShouldBe(("CONNECT", (Guid?)agent.Id));
        using var metadata = JsonDocument.Parse(connect.Metadata);
        (metadata.RootElement.GetProperty("from").GetString(), metadata.RootElement.GetProperty("to").GetString(), metadata.RootElement.GetProperty("replica").GetString())
            .ShouldBe(("STOPPED", "RUNNING", "replica-a"));
        var audit = (await Fixture.AuditAsync(instance.ToString())).ShouldHaveSingleItem();
        (audit.Action, audit.ActorId, audit.ResourceName).ShouldBe(("agent.connect", (Guid?)agent.Id, "web-1"));
    }

    [Fact]
    public async Task Connecting_raises_only_a_stopped_or_unknown_instance_to_running()
    {
        var agent = await AgentKeyOwnerAsync();
        var unknown = await InstanceAsync("a", "UNKNOWN");
        var error = await InstanceAsync("b", "ERROR");
        var suspended = await InstanceAsync("c", "SUSPENDED");

        (await Fixture.SendAsAsync(agent, new ConnectAgent.Command(unknown, Guid.CreateVersion7(), "r"))).Status.ShouldBe("RUNNING");
        (await Fixture.SendAsAsync(agent, new ConnectAgent.Command(error, Guid.CreateVersion7(), "r"))).Status.ShouldBe("ERROR");
        (await Fixture.SendAsAsync(agent, new ConnectAgent.Command(suspended, Guid.CreateVersion7(), "r"))).Status.ShouldBe("SUSPENDED");
        (await Fixture.QueryAsync<string>("SELECT status FROM fleet.instances ORDER BY name")).ShouldBe(["RUNNING", "ERROR", "SUSPENDED"]);
    }

    [Fact]
    public async Task A_connect_without_instance_connection_or_replica_is_invalid()
    {
        var agent = await AgentKeyOwnerAsync();
        var instance = await InstanceAsync("web-1", "STOPPED");

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new ConnectAgent.Command(Guid.Empty, Guid.CreateVersion7(), "r")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new ConnectAgent.Command(instance, Guid.Empty, "r")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new ConnectAgent.Command(instance, Guid.CreateVersion7(), "")));

        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.instances WHERE id = @Id AND agent_connection_id IS NULL", new { Id = instance })).ShouldBe("STOPPED");
        (await EventsAsync(instance)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Disconnecting_forgets_the_current_socket_but_not_a_newer_one()
    {
        var agent = await AgentKeyOwnerAsync();
        var instance = await InstanceAsync("web-1");
        var old = Guid.CreateVersion7();
        var current = Guid.CreateVersion7();
        await Fixture.SendAsAsync(agent, new ConnectAgent.Command(instance, old, "r1"));
        await Fixture.SendAsAsync(agent, new ConnectAgent.Command(instance, current, "r2"));

        // The replaced socket closing later leaves the newer one alone.
        (await Fixture.SendAsAsync(agent, new DisconnectAgent.Command(instance, old, "replaced"))).ShouldBeFalse();
        (await Fixture.ScalarAsync<Guid>("SELECT agent_connection_id FROM fleet.instances WHERE id = @Id", new { Id = instance })).ShouldBe(current);

        (await Fixture.SendAsAsync(agent, new DisconnectAgent.Command(instance, current, "socket closed"))).ShouldBeTrue();

        var stored = await Fixture.QueryAsync<(Guid?, string?, string)>("SELECT agent_connection_id, agent_replica, status FROM fleet.instances WHERE id = @Id", new { Id = instance });
        stored.ShouldBe([((Guid?)null, (string?)null, "RUNNING")]);
        var events = await EventsAsync(instance);
        events.Select(item => item.EventType).ShouldBe(["CONNECT", "CONNECT", "DISCONNECT"]);
        events[2].Metadata.ShouldContain("\"reason\": \"socket closed\"");
        (await Fixture.AuditAsync(instance.ToString(), "agent.disconnect")).ShouldHaveSingleItem().Metadata.ShouldContain(current.ToString());
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new DisconnectAgent.Command(Guid.Empty, current, "x")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new DisconnectAgent.Command(instance, Guid.Empty, "x")));
    }

    [Fact]
    public async Task An_agent_event_joins_the_timeline_without_an_audit_row()
    {
        var agent = await AgentKeyOwnerAsync();
        var instance = await InstanceAsync("web-1");

        var installed = await Fixture.SendAsAsync(agent, new RecordAgentEvent.Command(instance, "EXTENSION_INSTALL", AlertArrange.Json("""{"extension": "nodejs", "version": "22"}""")));
        var error = await Fixture.SendAsAsync(agent, new RecordAgentEvent.Command(instance, "ERROR", AlertArrange.Json("[1, 2]")));

        var stored = await Fixture.QueryAsync<(Guid, string, string)>(
            "SELECT id, event_type, metadata::text FROM fleet.instance_events WHERE instance_id = @Id", new { Id = instance });
        stored.ShouldBe([(installed, "EXTENSION_INSTALL", """{"version": "22", "extension": "nodejs"}"""), (error, "ERROR", "{}")], ignoreOrder: true);
        (await AuditCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task An_unknown_event_type_or_oversized_metadata_is_invalid()
    {
        var agent = await AgentKeyOwnerAsync();
        var instance = await InstanceAsync("web-1");
        var big = AlertArrange.Json(JsonSerializer.Serialize(new { blob = new string('x', 65_536) }));

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new RecordAgentEvent.Command(instance, "PARTY", default)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new RecordAgentEvent.Command(instance, "connect", default)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new RecordAgentEvent.Command(instance, "ERROR", big)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new RecordAgentEvent.Command(Guid.Empty, "ERROR", default)));

        (await EventsAsync(instance)).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_metric_snapshot_is_stored_at_the_agents_time_when_plausible()
    {
        var agent = await AgentKeyOwnerAsync();
        var instance = await InstanceAsync("web-1");
        var hourAgo = DateTimeOffset.UtcNow.AddHours(-1);

        (await Fixture.SendAsAsync(agent, new RecordAgentMetrics.Command(instance, new MetricSample
        {
            CpuPercent = 42.5,
            MemUsed = 512,
            MemTotal = 1024,
            NetBytesRecv = 9000,
            CoreCount = 4,
            Timestamp = hourAgo,
        }))).ShouldBeTrue();
        (await Fixture.SendAsAsync(agent, new RecordAgentMetrics.Command(instance, new MetricSample { CpuPercent = 1, Timestamp = hourAgo.AddDays(-2) }))).ShouldBeTrue();

        var rows = await Fixture.QueryAsync<(DateTime, double, long?, long?, long?, long?)>(
            "SELECT recorded_at, cpu_percent, mem_used, mem_total, net_bytes_recv, core_count FROM fleet.metrics WHERE instance_id = @Id ORDER BY recorded_at", new { Id = instance });
        rows.Count.ShouldBe(2);
        rows[0].Item1.ShouldBe(hourAgo.UtcDateTime, TimeSpan.FromMilliseconds(1));
        (rows[0].Item2, rows[0].Item3, rows[0].Item4, rows[0].Item5, rows[0].Item6).ShouldBe((42.5, (long?)512, (long?)1024, (long?)9000, (long?)4));
        // Two days back is outside the stored partitions: the server's time is used instead.
        rows[1].Item1.ShouldBe(DateTime.UtcNow, TimeSpan.FromMinutes(1));
        (await AuditCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task An_implausible_metric_snapshot_is_invalid()
    {
        var agent = await AgentKeyOwnerAsync();
        var instance = await InstanceAsync("web-1");
        RecordAgentMetrics.Command[] invalid =
        [
            new(Guid.Empty, new MetricSample { CpuPercent = 1 }),
            new(instance, null!),
            new(instance, new MetricSample { CpuPercent = 100.5 }),
            new(instance, new MetricSample { CpuSteal = -1 }),
            new(instance, new MetricSample { LoadAvg5 = -0.1 }),
            new(instance, new MetricSample { CoreCount = 65537 }),
            new(instance, new MetricSample { MemUsed = -1 }),
            new(instance, new MetricSample { DiskTotal = -1 }),
            new(instance, new MetricSample { NetBytesSent = -1 }),
        ];

        foreach (var command in invalid)
        {
            await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, command));
        }

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.metrics")).ShouldBe(0);
    }

    [Fact]
    public async Task A_backup_result_moves_a_requested_backup_on_and_a_finished_one_is_timelined()
    {
        var agent = await AgentKeyOwnerAsync();
        var instance = await InstanceAsync("web-1");
        var backup = await BackupAsync(instance);
        var failing = await BackupAsync(instance, "in_progress");

        (await Fixture.SendAsAsync(agent, new RecordBackupResult.Command(instance, backup, "in_progress", null, null, null))).ShouldBeTrue();
        (await Fixture.QueryAsync<(string, bool)>("SELECT status, completed_at IS NULL FROM fleet.instance_backups WHERE id = @Id", new { Id = backup })).ShouldBe([("in_progress", true)]);
        (await EventsAsync(instance)).ShouldBeEmpty();

        (await Fixture.SendAsAsync(agent, new RecordBackupResult.Command(instance, backup, "completed", 2048, "s3://backups/web-1.tgz", null))).ShouldBeTrue();
        (await Fixture.SendAsAsync(agent, new RecordBackupResult.Command(instance, failing, "failed", null, null, "disk full"))).ShouldBeTrue();

        var stored = await Fixture.QueryAsync<(Guid, string, long?, string?, string?, bool)>(
            "SELECT id, status, size_bytes, location, error, completed_at IS NOT NULL FROM fleet.instance_backups WHERE instance_id = @Id", new { Id = instance });
        stored.ShouldBe([(backup, "completed", (long?)2048, "s3://backups/web-1.tgz", (string?)null, true), (failing, "failed", (long?)null, (string?)null, "disk full", true)], ignoreOrder: true);
        var events = await EventsAsync(instance);
        events.Select(item => item.EventType).ShouldBe(["BACKUP", "ERROR"]);
        events[0].Metadata.ShouldContain("\"label\": \"nightly\"");
        events[1].Metadata.ShouldContain("\"Error\": \"disk full\"");
        (await AuditCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task A_result_for_a_finished_unknown_or_other_instances_backup_changes_nothing()
    {
        var agent = await AgentKeyOwnerAsync();
        var instance = await InstanceAsync("web-1");
        var other = await InstanceAsync("web-2");
        var done = await BackupAsync(instance, "completed");
        var others = await BackupAsync(other);

        (await Fixture.SendAsAsync(agent, new RecordBackupResult.Command(instance, done, "failed", null, null, "late"))).ShouldBeFalse();
        (await Fixture.SendAsAsync(agent, new RecordBackupResult.Command(instance, others, "completed", 1, null, null))).ShouldBeFalse();
        (await Fixture.SendAsAsync(agent, new RecordBackupResult.Command(instance, Guid.CreateVersion7(), "completed", 1, null, null))).ShouldBeFalse();

        (await Fixture.QueryAsync<string>("SELECT status FROM fleet.instance_backups ORDER BY status")).ShouldBe(["completed", "pending"]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instance_events")).ShouldBe(0);
    }

    [Fact]
    public async Task An_invalid_backup_result_is_refused()
    {
        var agent = await AgentKeyOwnerAsync();
        var instance = await InstanceAsync("web-1");
        var backup = await BackupAsync(instance);
        RecordBackupResult.Command valid = new(instance, backup, "completed", 1, "here", null);
        RecordBackupResult.Command[] invalid =
        [
            valid with { BackupId = Guid.Empty },
            valid with { Status = "done" },
            valid with { Status = null },
            valid with { SizeBytes = -1 },
            valid with { Location = new string('l', 2049) },
            valid with { Error = new string('e', 4097) },
        ];

        foreach (var command in invalid)
        {
            await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, command));
        }

        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.instance_backups WHERE id = @Id", new { Id = backup })).ShouldBe("pending");
    }
}
