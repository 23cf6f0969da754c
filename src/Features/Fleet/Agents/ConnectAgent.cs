using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;

namespace Capstan.Features.Fleet.Agents;

/// <summary>Records that this replica now holds the instance's agent socket (so commands are dispatched to it), tells
/// any older socket of the instance, on any replica, to close, writes a CONNECT event and brings a STOPPED or UNKNOWN
/// instance to RUNNING. No route: the agent socket sends it.</summary>
public static class ConnectAgent
{
    public sealed record Command(Guid InstanceId, Guid ConnectionId, string Replica) : ICommand<Connected>;

    public sealed record Connected(Guid InstanceId, string Name, string Status);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.InstanceId).NotEmpty();
            RuleFor(command => command.ConnectionId).NotEmpty();
            RuleFor(command => command.Replica).NotEmpty();
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EventHub hub, TimeProvider clock) : IRequestHandler<Command, Connected>
    {
        private const string Connect = """
            WITH before AS (SELECT id, status FROM fleet.instances WHERE id = @InstanceId FOR UPDATE)
            UPDATE fleet.instances i
            SET agent_connection_id = @ConnectionId, agent_replica = @Replica, agent_connected_at = @Now,
                status = CASE WHEN before.status IN ('STOPPED', 'UNKNOWN') THEN 'RUNNING' ELSE before.status END,
                updated_at = @Now
            FROM before
            WHERE i.id = before.id
            RETURNING i.id AS instance_id, i.name, i.status, before.status AS previous_status
            """;

        private const string RecordEvent = """
            INSERT INTO fleet.instance_events (id, instance_id, event_type, occurred_at, actor_id, metadata)
            VALUES (@EventId, @InstanceId, 'CONNECT', @Now, @ActorId, CAST(@Metadata AS jsonb))
            """;

        public async Task<Connected> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var now = clock.GetUtcNow().UtcDateTime;
            var row = await db.QuerySingleAsync<Row>(Connect, new { command.InstanceId, command.ConnectionId, command.Replica, Now = now }, cancellationToken);
            var metadata = new { triggered_by = "agent", connectionId = command.ConnectionId, replica = command.Replica, from = row.PreviousStatus, to = row.Status };
            await db.ExecuteAsync(
                RecordEvent,
                new { EventId = Guid.CreateVersion7(), command.InstanceId, Now = now, ActorId = caller.UserId, Metadata = JsonSerializer.Serialize(metadata) },
                cancellationToken);
            await hub.PublishAsync(db, $"fleet.agent.{command.InstanceId}", new { kind = "replace", connectionId = command.ConnectionId }, cancellationToken);
            await hub.PublishAsync(db, $"fleet.instances.{command.InstanceId}", new { eventType = "CONNECT", instanceId = command.InstanceId, status = row.Status, metadata, ts = now }, cancellationToken);
            audit.Record("agent.connect", "instance", command.InstanceId.ToString(), row.Name, new { connectionId = command.ConnectionId, replica = command.Replica });
            return new Connected(row.InstanceId, row.Name, row.Status);
        }
    }

    internal sealed record Row
    {
        public Guid InstanceId { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Status { get; init; } = string.Empty;

        public string PreviousStatus { get; init; } = string.Empty;
    }
}
