using Capstan.Features.Fleet.Instances;
using Capstan.Features.Tests.Fleet.Security;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Instances;

/// <summary>An instance's timeline (newest first, type filter, keyset pages), its top processes from the latest
/// heartbeat that carried them, and its extensions' reported or inferred status.</summary>
public sealed class InstanceDetailHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private Task EventAsync(Guid instance, string type, DateTime at, string metadata = "{}") =>
        Fixture.ExecuteAsync(
            "INSERT INTO fleet.instance_events (id, instance_id, event_type, occurred_at, metadata) VALUES (@Id, @Instance, @Type, @At, CAST(@Metadata AS jsonb))",
            new { Id = Guid.CreateVersion7(), Instance = instance, Type = type, At = at, Metadata = metadata });

    private Task HeartbeatAsync(Guid instance, DateTime at, long memoryTotal, string? processes) =>
        Fixture.ExecuteAsync(
            "INSERT INTO fleet.heartbeats (instance_id, recorded_at, memory_total, processes) VALUES (@Instance, @At, @Total, CAST(@Processes AS jsonb))",
            new { Instance = instance, At = at, Total = memoryTotal, Processes = processes });

    [Fact]
    public async Task The_timeline_is_newest_first_filtered_by_type_and_paged_by_cursor()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var now = DateTime.UtcNow;
        await EventAsync(box, "DEPLOY", now.AddMinutes(-5), """{"by":"ci"}""");
        await EventAsync(box, "SUSPEND", now.AddMinutes(-4));
        await EventAsync(box, "RESUME", now.AddMinutes(-3));
        await EventAsync(box, "SUSPEND", now.AddMinutes(-2));
        await EventAsync(other, "SUSPEND", now.AddMinutes(-1));
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var first = await Fixture.SendAsAsync(viewer, new ListInstanceEvents.Query(box, null, 3, null));
        var rest = await Fixture.SendAsAsync(viewer, new ListInstanceEvents.Query(box, null, 3, first.NextCursor));
        var suspends = await Fixture.SendAsAsync(viewer, new ListInstanceEvents.Query(box, " suspend ", 50, null));

        first.InstanceId.ShouldBe(box);
        first.Events.Select(item => item.Type).ShouldBe(["SUSPEND", "RESUME", "SUSPEND"]);
        first.Data.ShouldBe(first.Events);
        first.NextCursor.ShouldNotBeNull();
        var last = rest.Events.ShouldHaveSingleItem();
        (last.Type, last.Metadata.GetProperty("by").GetString()).ShouldBe(("DEPLOY", "ci"));
        rest.NextCursor.ShouldBeNull();
        suspends.Events.Count.ShouldBe(2);
        suspends.Events[0].Timestamp.ShouldBeGreaterThan(suspends.Events[1].Timestamp);
    }

    [Fact]
    public async Task The_timeline_of_an_unknown_or_hidden_instance_is_not_found_and_bad_queries_are_rejected()
    {
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new ListInstanceEvents.Query(hidden, null, 50, null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new ListInstanceEvents.Query(Guid.CreateVersion7(), null, 50, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListInstanceEvents.Query(Guid.Empty, null, 50, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListInstanceEvents.Query(hidden, null, 0, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListInstanceEvents.Query(hidden, null, 101, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListInstanceEvents.Query(hidden, new string('T', 65), 50, null)));
    }

    [Fact]
    public async Task Processes_come_from_the_latest_heartbeat_that_carried_them_busiest_first()
    {
        var box = await InstanceAsync("box");
        var now = DateTime.UtcNow;
        await HeartbeatAsync(box, now.AddMinutes(-3), 1000, """[{"pid":1,"name":"stale","cpu_percent":99,"memory_bytes":1}]""");
        await HeartbeatAsync(
            box,
            now.AddMinutes(-2),
            1000,
            """
            [{"pid":10,"name":"idle","cpu_percent":0.5,"memory_bytes":100},
             {"pid":11,"name":"node","cpu_percent":42.126,"memory_bytes":250,"status":"sleeping","user":"app","command":"node server.js"},
             {"pid":12,"name":"pg","cpu_percent":7,"memory_bytes":333}]
            """);
        await HeartbeatAsync(box, now.AddMinutes(-1), 1000, null);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var top = await Fixture.SendAsAsync(viewer, new GetInstanceProcesses.Query(box, 2));

        top.InstanceId.ShouldBe(box);
        top.Timestamp.ShouldNotBeNull().ShouldBe(now.AddMinutes(-2), TimeSpan.FromMilliseconds(1));
        top.Processes.ShouldBe(
        [
            new GetInstanceProcesses.ProcessView(11, "node", 42.13, 250, 25, "sleeping", "app", "node server.js"),
            new GetInstanceProcesses.ProcessView(12, "pg", 7, 333, 33.3, "running", null, null),
        ]);
    }

    [Fact]
    public async Task An_instance_that_never_sent_processes_has_none_and_bad_queries_are_rejected()
    {
        var box = await InstanceAsync("box");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        await HeartbeatAsync(box, DateTime.UtcNow, 1000, null);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var none = await Fixture.SendAsAsync(viewer, new GetInstanceProcesses.Query(box, 10));

        (none.Timestamp, none.Processes.Count).ShouldBe((null, 0));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetInstanceProcesses.Query(hidden, 10)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetInstanceProcesses.Query(Guid.CreateVersion7(), 10)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetInstanceProcesses.Query(Guid.Empty, 10)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetInstanceProcesses.Query(box, 0)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetInstanceProcesses.Query(box, 101)));
    }

    [Fact]
    public async Task Extensions_take_the_agents_state_a_long_install_is_stalled_and_the_rest_follow_the_instance()
    {
        var box = await InstanceAsync("box", lastHeartbeat: DateTime.UtcNow.AddMinutes(-1));
        var silent = await InstanceAsync("silent", lastHeartbeat: DateTime.UtcNow.AddMinutes(-10));
        var now = DateTime.UtcNow;
        var states =
            $$"""
            [{"name":"python","status":"degraded","version":"3.12","updatedAt":"{{now.AddMinutes(-1):O}}"},
             {"name":"rust","status":"installing","updatedAt":"{{now.AddMinutes(-20):O}}"},
             {"name":"go","status":"installing","updatedAt":"{{now.AddMinutes(-2):O}}"}]
            """;
        await Fixture.ExecuteAsync(
            "UPDATE fleet.instances SET extensions = ARRAY['nodejs','python'], extension_states = CAST(@States AS jsonb) WHERE id = @Box;" +
            "UPDATE fleet.instances SET extensions = ARRAY['nodejs'] WHERE id = @Silent",
            new { States = states, Box = box, Silent = silent });
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var onBox = await Fixture.SendAsAsync(viewer, new GetInstanceExtensions.Query(box));
        var onSilent = await Fixture.SendAsAsync(viewer, new GetInstanceExtensions.Query(silent));

        (onBox.InstanceId, onBox.InstanceStatus).ShouldBe((box, "RUNNING"));
        onBox.Extensions.Select(extension => (extension.Name, extension.Status, extension.Version)).ShouldBe(
            [("go", "installing", null), ("nodejs", "healthy", null), ("python", "degraded", "3.12"), ("rust", "stalled", null)]);
        onSilent.Extensions.Select(extension => (extension.Name, extension.Status)).ShouldBe([("nodejs", "unknown")]);
    }

    [Fact]
    public async Task Extensions_of_an_unknown_or_hidden_instance_are_not_found_and_an_empty_id_is_invalid()
    {
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetInstanceExtensions.Query(hidden)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetInstanceExtensions.Query(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetInstanceExtensions.Query(Guid.Empty)));
    }
}
