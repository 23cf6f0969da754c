using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Fleet.Maintenance;

/// <summary>
/// Every <c>Fleet:Agents:SilenceCheckSeconds</c> (30), once per fleet:
/// <list type="bullet">
/// <item>a RUNNING instance silent for <c>Fleet:Agents:HeartbeatTimeoutSeconds</c> (90) — no heartbeat, agent
/// connection or lifecycle change in that time — becomes ERROR (unhealthy) with a HEARTBEAT_LOST event; its next
/// heartbeat brings it back (HEARTBEAT_RECOVERED);</item>
/// <item>a command still RUNNING past its timeout and the grace (<c>Fleet:Commands:GraceMs</c>) becomes TIMEOUT, even if
/// the replica that dispatched it went away;</item>
/// <item>a deployment IN_PROGRESS for longer than its run time allows (the runner's replica died) becomes FAILED.</item>
/// </list>
/// </summary>
public sealed class AgentSilenceWatch(IServiceProvider services, ILogger<AgentSilenceWatch> logger) : RecurringJob(services, logger)
{
    private const string MarkSilent = """
        WITH silent AS (
            UPDATE fleet.instances i SET status = 'ERROR', updated_at = @Now
            WHERE i.status = 'RUNNING' AND greatest(i.last_heartbeat_at, i.agent_connected_at, i.updated_at) < @Cutoff
            RETURNING i.id, i.last_heartbeat_at
        )
        INSERT INTO fleet.instance_events (id, instance_id, event_type, occurred_at, metadata)
        SELECT platform.uuid_v7(), id, 'HEARTBEAT_LOST', @Now,
               jsonb_build_object('triggered_by', 'silence-watch', 'from', 'RUNNING', 'to', 'ERROR', 'last_heartbeat_at', last_heartbeat_at,
                                  'timeout_sec', @TimeoutSec)
        FROM silent
        RETURNING instance_id
        """;

    private const string ExpireCommands = """
        UPDATE fleet.command_executions
        SET status = 'TIMEOUT', completed_at = @Now,
            duration_ms = (extract(epoch FROM (@Now - dispatched_at)) * 1000)::bigint,
            stderr = COALESCE(stderr || E'\n', '') || 'Timed out: the agent did not answer in time'
        WHERE status IN ('PENDING', 'RUNNING') AND dispatched_at + make_interval(secs => (timeout_ms + @GraceMs) / 1000.0) < @Now
        RETURNING id
        """;

    private const string FailInterrupted = """
        UPDATE fleet.deployments
        SET status = 'FAILED', completed_at = @Now, error = 'The deployment was interrupted (the service running it stopped)', secrets_sealed = NULL
        WHERE status = 'IN_PROGRESS' AND started_at < @DeploymentCutoff
        """;

    private readonly TimeSpan _interval = TimeSpan.FromSeconds(services.GetRequiredService<IConfiguration>().GetValue("Fleet:Agents:SilenceCheckSeconds", 30));
    private readonly ILogger _logger = logger;

    public override string Name => "fleet-agent-silence";

    public override TimeSpan Interval => _interval;

    protected override TimeSpan FirstRunDelay => TimeSpan.FromSeconds(20);

    public override async Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        var configuration = scope.GetRequiredService<IConfiguration>();
        var db = scope.GetRequiredService<DbSession>();
        var hub = scope.GetRequiredService<EventHub>();
        var now = scope.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var timeout = configuration.GetValue("Fleet:Agents:HeartbeatTimeoutSeconds", 90);
        var silent = await db.QueryAsync<Guid>(MarkSilent, new { Now = now, Cutoff = now.AddSeconds(-timeout), TimeoutSec = timeout }, cancellationToken);
        foreach (var instanceId in silent)
        {
            await hub.PublishAsync(
                db, $"fleet.instances.{instanceId}", new { eventType = "HEARTBEAT_LOST", instanceId, status = "ERROR", metadata = new { timeout_sec = timeout }, ts = now }, cancellationToken);
        }

        var expired = await db.QueryAsync<Guid>(ExpireCommands, new { Now = now, GraceMs = (double)configuration.GetValue("Fleet:Commands:GraceMs", 5000) }, cancellationToken);
        foreach (var executionId in expired)
        {
            await hub.PublishAsync(db, $"fleet.commands.{executionId}", new { executionId, status = "TIMEOUT" }, cancellationToken);
        }

        var deploymentTimeout = TimeSpan.FromMinutes(configuration.GetValue("Fleet:Deployments:TimeoutMinutes", 30.0) + 5);
        var interrupted = await db.ExecuteAsync(FailInterrupted, new { Now = now, DeploymentCutoff = now - deploymentTimeout }, cancellationToken);
        if (silent.Count + expired.Count + interrupted > 0)
        {
            _logger.LogInformation(
                "Fleet watch: {Silent} instances unhealthy after {Timeout} s of silence, {Expired} commands timed out, {Interrupted} deployments interrupted",
                silent.Count, timeout, expired.Count, interrupted);
        }
    }
}
