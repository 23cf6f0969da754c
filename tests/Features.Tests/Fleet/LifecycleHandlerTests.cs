using Capstan.Features.Fleet.Agents;
using Capstan.Features.Fleet.Instances;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet;

/// <summary>The lifecycle state machine through its slices: every status against every action.</summary>
public sealed class LifecycleHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    public static TheoryData<string, string, string?> Transitions
    {
        get
        {
            var data = new TheoryData<string, string, string?>();
            var allowed = new Dictionary<(string, string), string>
            {
                [("RUNNING", "suspend")] = "SUSPENDED",
                [("SUSPENDED", "resume")] = "RUNNING",
                [("STOPPED", "resume")] = "RUNNING",
                [("ERROR", "resume")] = "RUNNING",
                [("RUNNING", "deregister")] = "STOPPED",
                [("SUSPENDED", "deregister")] = "STOPPED",
                [("ERROR", "deregister")] = "STOPPED",
                [("DESTROYING", "deregister")] = "STOPPED",
                [("UNKNOWN", "deregister")] = "STOPPED",
            };
            foreach (var status in new[] { "RUNNING", "STOPPED", "DEPLOYING", "DESTROYING", "DESTROYED", "SUSPENDED", "ERROR", "UNKNOWN" })
            {
                foreach (var action in new[] { "suspend", "resume", "deregister" })
                {
                    data.Add(status, action, allowed.GetValueOrDefault((status, action)));
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Transitions))]
    public async Task Each_status_allows_exactly_its_actions(string status, string action, string? expected)
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Operator);
        var id = await InstanceAsync($"i-{status.ToLowerInvariant()}", status);

        async Task<string> Act() => action switch
        {
            "suspend" => (await Fixture.SendAsAsync(user, new SuspendInstance.Command(id))).Status,
            "resume" => (await Fixture.SendAsAsync(user, new ResumeInstance.Command(id))).Status,
            _ => (await Fixture.SendAsAsync(user, new DeregisterInstance.Command(id, false, null))).Status,
        };

        if (expected is null)
        {
            await Should.ThrowAsync<ConflictException>(Act);
            (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instance_events WHERE instance_id = @Id", new { Id = id })).ShouldBe(0);
        }
        else
        {
            (await Act()).ShouldBe(expected);
            (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.instances WHERE id = @Id", new { Id = id })).ShouldBe(expected);
            (await Fixture.ScalarAsync<string>("SELECT metadata->>'from' FROM fleet.instance_events WHERE instance_id = @Id", new { Id = id })).ShouldBe(status);
        }
    }

    [Fact]
    public void Available_actions_follow_the_upstream_table()
    {
        InstanceLifecycle.AvailableActions("RUNNING").ShouldBe(["suspend", "destroy", "backup"]);
        InstanceLifecycle.AvailableActions("SUSPENDED").ShouldBe(["resume", "destroy", "backup"]);
        InstanceLifecycle.AvailableActions("STOPPED").ShouldBe(["resume", "destroy"]);
        InstanceLifecycle.AvailableActions("ERROR").ShouldBe(["resume", "destroy"]);
        InstanceLifecycle.AvailableActions("DEPLOYING").ShouldBeEmpty();
        InstanceLifecycle.AvailableActions("DESTROYED").ShouldBeEmpty();
        InstanceLifecycle.AvailableActions("UNKNOWN").ShouldBeEmpty();
    }

    [Fact]
    public async Task Another_teams_instance_is_not_found_for_a_non_member()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Operator);
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync("INSERT INTO fleet.instances (id, name, provider, status, team_id) VALUES (@Id, 'theirs', 'fly', 'RUNNING', @Team)", new { Id = id, Team = Guid.CreateVersion7() });

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(user, new SuspendInstance.Command(id)));
    }

    [Fact]
    public async Task A_late_command_result_after_a_timeout_changes_nothing()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var instance = await InstanceAsync("late");
        var execution = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.command_executions (id, instance_id, command, timeout_ms, status, dispatched_at) VALUES (@Id, @Instance, 'ls', 1000, 'TIMEOUT', now())",
            new { Id = execution, Instance = instance });

        (await Fixture.SendAsAsync(user, new RecordCommandResult.Command(instance, execution, 0, "late", null, 5, null))).ShouldBeFalse();
        (await Fixture.SendAsAsync(user, new RecordCommandResult.Command(Guid.CreateVersion7(), execution, 0, "wrong instance", null, 5, null))).ShouldBeFalse();
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.command_executions WHERE id = @Id", new { Id = execution })).ShouldBe("TIMEOUT");
    }

    [Fact]
    public async Task A_heartbeat_never_revives_a_suspended_instance()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await InstanceAsync("sleeping", "SUSPENDED");

        var result = await Fixture.SendAsAsync(user, new RecordHeartbeat.Command(id, new HeartbeatReport { CpuPercent = 1 }));

        result.Status.ShouldBe("SUSPENDED");
    }
}
