using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Commands;

/// <summary>Arrange-helpers of the command handler tests: instances whose agent is connected, executions written
/// straight to the database, and a stand-in agent that answers dispatched commands.</summary>
internal static class CommandArrange
{
    /// <summary>Marks <paramref name="instance"/>'s agent as connected <paramref name="seenAgo"/> ago (now by default), optionally owned by a team.</summary>
    public static Task OnlineAsync(this ApiFixture fixture, Guid instance, TimeSpan? seenAgo = null, Guid? team = null) =>
        fixture.ExecuteAsync(
            "UPDATE fleet.instances SET agent_connection_id = @Connection, agent_connected_at = @Seen, last_heartbeat_at = @Seen, team_id = @Team WHERE id = @Id",
            new { Id = instance, Connection = Guid.CreateVersion7(), Seen = DateTime.UtcNow - (seenAgo ?? TimeSpan.Zero), Team = team });

    public static async Task<Guid> ExecutionAsync(
        this ApiFixture fixture, Guid instance, Guid? user, string command, string status = "SUCCEEDED", Guid? batch = null, DateTime? createdAt = null)
    {
        var id = Guid.CreateVersion7();
        await fixture.ExecuteAsync(
            """
            INSERT INTO fleet.command_executions (id, instance_id, user_id, batch_id, command, args, env, timeout_ms, status, exit_code, stdout, created_at, dispatched_at)
            VALUES (@Id, @Instance, @User, @Batch, @Command, '{-l}', '{"TOKEN": "***"}', 30000, @Status, 0, 'out', @CreatedAt, @CreatedAt)
            """,
            new { Id = id, Instance = instance, User = user, Batch = batch, Command = command, Status = status, CreatedAt = createdAt ?? DateTime.UtcNow });
        return id;
    }

    /// <summary>Answers the RUNNING executions of <paramref name="instances"/> as their agents would (the waiter polls
    /// the rows): <c>false</c> fails with exit 1, anything else succeeds printing <c>ran &lt;command&gt;</c>.</summary>
    public static StandInAgent AnswerCommands(this ApiFixture fixture, params Guid[] instances) => new(fixture, instances);

    internal sealed class StandInAgent : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public StandInAgent(ApiFixture fixture, Guid[] instances) => _loop = RunAsync(fixture, instances, _stop.Token);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            _stop.Dispose();
        }

        private static async Task RunAsync(ApiFixture fixture, Guid[] instances, CancellationToken cancellationToken)
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await fixture.ExecuteAsync(
                    """
                    UPDATE fleet.command_executions
                    SET status = CASE WHEN command = 'false' THEN 'FAILED' ELSE 'SUCCEEDED' END,
                        exit_code = CASE WHEN command = 'false' THEN 1 ELSE 0 END,
                        stdout = 'ran ' || command, duration_ms = 7, completed_at = now()
                    WHERE status = 'RUNNING' AND instance_id = ANY(@Instances)
                    """,
                    new { Instances = instances });
                try
                {
                    await Task.Delay(50, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
