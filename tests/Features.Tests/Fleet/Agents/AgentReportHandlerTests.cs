using System.Text.Json;
using Capstan.Features.Fleet.Agents;
using Capstan.Features.Fleet.Instances;
using Capstan.Features.Fleet.Logs;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Agents;

/// <summary>What the agent socket's heartbeat and log messages store, through their own handlers (which share the
/// report type and the COPY writer with the REST routes, never the routes' slices).</summary>
public sealed class AgentReportHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    [Fact]
    public async Task A_heartbeat_stores_the_sample_and_processes_and_brings_an_errored_instance_back()
    {
        var agent = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await InstanceAsync("box", "ERROR");
        var sentAt = DateTimeOffset.UtcNow.AddSeconds(-5);

        var outcome = await Fixture.SendAsAsync(agent, new RecordAgentHeartbeat.Command(id, new HeartbeatReport
        {
            CpuPercent = 12.5,
            MemoryUsed = 512,
            MemoryTotal = 2048,
            UptimeSeconds = 90,
            AgentVersion = "3.1.0",
            Extensions = ["python", "git", "python"],
            Processes = [new HeartbeatReport.ProcessSample(42, "node", 3.5, 1024, null, "dev", "node server.js")],
            Timestamp = sentAt,
        }));

        outcome.Status.ShouldBe("RUNNING");
        var instance = (await Fixture.QueryAsync<(string Status, string AgentVersion, string[] Extensions, DateTime LastHeartbeatAt)>(
            "SELECT status, agent_version, extensions, last_heartbeat_at FROM fleet.instances WHERE id = @Id", new { Id = id })).ShouldHaveSingleItem();
        instance.Status.ShouldBe("RUNNING");
        instance.AgentVersion.ShouldBe("3.1.0");
        instance.Extensions.ShouldBe(["python", "git"]);
        instance.LastHeartbeatAt.ShouldBe(sentAt.UtcDateTime, TimeSpan.FromMilliseconds(1));
        var sample = (await Fixture.QueryAsync<(double Cpu, long MemoryUsed, long Uptime, string Processes)>(
            "SELECT cpu_percent, memory_used, uptime_seconds, processes::text FROM fleet.heartbeats WHERE instance_id = @Id", new { Id = id })).ShouldHaveSingleItem();
        (sample.Cpu, sample.MemoryUsed, sample.Uptime).ShouldBe((12.5, 512L, 90L));
        JsonDocument.Parse(sample.Processes).RootElement[0].GetProperty("cpu_percent").GetDouble().ShouldBe(3.5);
        (await Fixture.QueryAsync<string>("SELECT event_type FROM fleet.instance_events WHERE instance_id = @Id", new { Id = id })).ShouldBe(["HEARTBEAT_RECOVERED"]);
    }

    [Fact]
    public async Task A_heartbeat_for_a_destroyed_or_unknown_instance_or_out_of_range_is_refused_and_stores_nothing()
    {
        var agent = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var gone = await InstanceAsync("gone", "DESTROYED");
        var live = await InstanceAsync("live");

        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(agent, new RecordAgentHeartbeat.Command(gone, new HeartbeatReport { CpuPercent = 1 })));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(agent, new RecordAgentHeartbeat.Command(Guid.CreateVersion7(), new HeartbeatReport { CpuPercent = 1 })));
        var invalid = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new RecordAgentHeartbeat.Command(live, new HeartbeatReport { CpuPercent = 150 })));

        invalid.Errors.Select(error => error.PropertyName).ShouldBe(["cpuPercent"]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.heartbeats")).ShouldBe(0);
    }

    [Fact]
    public async Task Log_lines_are_copied_for_the_agents_own_instance_all_or_nothing()
    {
        var agent = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var gone = await InstanceAsync("gone", "DESTROYED");

        var stored = await Fixture.SendAsAsync(agent, new IngestAgentLogs.Command(id, [Line(id, "first", "info"), Line(id, "second", "error")]));

        stored.ShouldBe(2);
        (await Fixture.QueryAsync<(string Level, string Message)>("SELECT level, message FROM fleet.logs WHERE instance_id = @Id ORDER BY message", new { Id = id }))
            .ShouldBe([("INFO", "first"), ("ERROR", "second")]);

        var foreign = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new IngestAgentLogs.Command(id, [Line(id, "mine"), Line(other, "not mine")])));
        foreign.Errors.Select(error => error.PropertyName).ShouldBe(["entries[1].instanceId"]);
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new IngestAgentLogs.Command(id, [])));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(agent, new IngestAgentLogs.Command(id, [Line(id, "bad level", "loud")])));
        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(agent, new IngestAgentLogs.Command(gone, [Line(gone, "too late")])));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.logs")).ShouldBe(2);
    }

    private static LogEntry Line(Guid instance, string message, string level = "info") =>
        new() { InstanceId = instance, Level = level, Source = "agent", Message = message };
}
