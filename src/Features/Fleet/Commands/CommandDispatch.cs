using System.Text.Json;
using Capstan.Features.Fleet.Instances;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Commands;

/// <summary>
/// Sends commands to instances' agents and waits for their answers. Dispatch records a RUNNING execution and raises a
/// <c>command</c> message on the instance's agent topic (<c>fleet.agent.&lt;id&gt;</c>), delivered when the
/// transaction commits to whichever replica holds the agent's socket; that replica's socket writes
/// <c>command:dispatch</c>, and the agent's <c>command:result</c> completes the row and raises
/// <c>fleet.commands.&lt;id&gt;</c>. The waiter wakes on that, or polls, and marks what is still running at the
/// deadline (timeout + <c>Fleet:Commands:GraceMs</c>) as TIMEOUT.
/// </summary>
internal static class CommandDispatch
{
    public sealed record Spec(
        string Command, string[] Args, IReadOnlyDictionary<string, string> Env, string? WorkingDir, int TimeoutMs, string? Script, string? Interpreter);

    /// <summary>One instance's dispatch: the execution id, or why there is none (404 unknown, 409 not connected).</summary>
    public sealed record Target(Guid InstanceId, string? Name, Guid? ExecutionId, int Status, string? Error);

    private const string Instances = $"""
        SELECT i.id, i.name, i.status, i.agent_connection_id, i.agent_connected_at, i.last_heartbeat_at
        FROM fleet.instances i
        WHERE i.id = ANY(@Ids) AND {FleetVisibility.Predicate}
        """;

    private const string Insert = """
        INSERT INTO fleet.command_executions
            (id, instance_id, user_id, batch_id, command, args, env, working_dir, timeout_ms, status, script_content, created_at, dispatched_at)
        VALUES
            (@Id, @InstanceId, @UserId, @BatchId, @Command, @Args, CAST(@Env AS jsonb), @WorkingDir, @TimeoutMs, 'RUNNING', @Script, @Now, @Now)
        """;

    public static TimeSpan Grace(IConfiguration configuration) => TimeSpan.FromMilliseconds(configuration.GetValue("Fleet:Commands:GraceMs", 5000));

    /// <summary>Dispatches <paramref name="spec"/> to each instance, inside the session's transaction (<paramref name="userId"/> is null for
    /// runs no user started, such as scheduled tasks).</summary>
    public static async Task<List<Target>> DispatchAsync(
        DbSession db, EventHub hub, FleetVisibility.TeamScope scope, IReadOnlyList<Guid> instanceIds, Guid? userId, Guid? batchId, Spec spec, DateTime now,
        CancellationToken cancellationToken)
    {
        var instances = (await db.QueryAsync<InstanceRow>(Instances, new { Ids = instanceIds.ToArray(), scope.SeesAllTeams, scope.TeamIds }, cancellationToken))
            .ToDictionary(row => row.Id);
        var maskedEnv = JsonSerializer.Serialize(spec.Env.ToDictionary(pair => pair.Key, _ => "***"));
        var targets = new List<Target>();
        foreach (var instanceId in instanceIds)
        {
            if (!instances.TryGetValue(instanceId, out var instance))
            {
                targets.Add(new Target(instanceId, null, null, 404, $"Instance '{instanceId}' not found"));
                continue;
            }

            if (instance.Status == "DESTROYED" || !AgentPresence.IsOnline(instance.AgentConnectionId, instance.AgentConnectedAt, instance.LastHeartbeatAt, now))
            {
                targets.Add(new Target(instanceId, instance.Name, null, 409, $"Agent for instance '{instance.Name}' is not connected"));
                continue;
            }

            var executionId = Guid.CreateVersion7();
            await db.ExecuteAsync(
                Insert,
                new
                {
                    Id = executionId,
                    InstanceId = instanceId,
                    UserId = userId,
                    BatchId = batchId,
                    spec.Command,
                    spec.Args,
                    Env = maskedEnv,
                    spec.WorkingDir,
                    TimeoutMs = (long)spec.TimeoutMs,
                    spec.Script,
                    Now = now,
                },
                cancellationToken);
            await hub.PublishAsync(
                db,
                $"fleet.agent.{instanceId}",
                new
                {
                    kind = "command",
                    commandId = executionId,
                    command = spec.Command,
                    args = spec.Args,
                    env = spec.Env,
                    workingDir = spec.WorkingDir,
                    timeoutMs = spec.TimeoutMs,
                    script = spec.Script,
                    interpreter = spec.Interpreter,
                },
                cancellationToken);
            targets.Add(new Target(instanceId, instance.Name, executionId, 201, null));
        }

        return targets;
    }

    internal sealed record InstanceRow
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Status { get; init; } = string.Empty;

        public Guid? AgentConnectionId { get; init; }

        public DateTime? AgentConnectedAt { get; init; }

        public DateTime? LastHeartbeatAt { get; init; }
    }
}

/// <summary>Waits for executions to finish. Start it before the dispatch commits, so no completion is missed.</summary>
internal sealed class CommandWaiter : IAsyncDisposable
{
    private const string Select = $"""
        SELECT {ExecutionRow.Columns}
        FROM fleet.command_executions c JOIN fleet.instances i ON i.id = c.instance_id
        WHERE c.id = ANY(@Ids)
        """;

    private const string Expire = """
        UPDATE fleet.command_executions
        SET status = 'TIMEOUT', completed_at = @Now,
            duration_ms = (extract(epoch FROM (@Now - dispatched_at)) * 1000)::bigint,
            stderr = COALESCE(stderr || E'\n', '') || @Reason
        WHERE id = ANY(@Ids) AND status IN ('PENDING', 'RUNNING')
        """;

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly CancellationTokenSource _stop;
    private readonly IAsyncEnumerator<HubMessage> _notices;
    private Task<bool> _next;
    private bool _ended;

    private CommandWaiter(EventHub hub, CancellationToken cancellationToken)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _notices = hub.SubscribeAsync("fleet.commands", _stop.Token).GetAsyncEnumerator(_stop.Token);
        // The first MoveNextAsync registers the subscription at once.
        _next = _notices.MoveNextAsync().AsTask();
    }

    public static CommandWaiter Start(EventHub hub, CancellationToken cancellationToken) => new(hub, cancellationToken);

    /// <summary>Returns the executions once all have finished; at <paramref name="deadline"/> the unfinished ones
    /// become TIMEOUT.</summary>
    public async Task<List<ExecutionRow>> WaitAsync(DbSession db, IReadOnlyCollection<Guid> executionIds, DateTime deadline, TimeProvider clock, CancellationToken cancellationToken)
    {
        var ids = executionIds.ToArray();
        while (true)
        {
            var rows = await db.QueryAsync<ExecutionRow>(Select, new { Ids = ids }, cancellationToken);
            if (rows.All(row => row.IsFinished))
            {
                return rows;
            }

            var now = clock.GetUtcNow().UtcDateTime;
            if (now >= deadline)
            {
                var reason = $"Timed out: the agent did not answer within {(deadline - rows.Min(row => row.DispatchedAt ?? now)).TotalMilliseconds:0} ms";
                await db.ExecuteAsync(Expire, new { Ids = ids, Now = now, Reason = reason }, cancellationToken);
                return await db.QueryAsync<ExecutionRow>(Select, new { Ids = ids }, cancellationToken);
            }

            var wait = deadline - now < PollInterval ? deadline - now : PollInterval;
            var tick = Task.Delay(wait, cancellationToken);
            if (_ended)
            {
                await tick;
            }
            else if (await Task.WhenAny(_next, tick) == _next)
            {
                // A completion was raised somewhere (any replica): look again at once.
                if (await _next)
                {
                    _next = _notices.MoveNextAsync().AsTask();
                }
                else
                {
                    _ended = true;
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _next;
        }
        catch (OperationCanceledException)
        {
        }

        await _notices.DisposeAsync();
        _stop.Dispose();
    }
}
