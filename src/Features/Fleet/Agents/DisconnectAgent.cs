using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Mediation;
using FluentValidation;
using MediatR;

namespace Capstan.Features.Fleet.Agents;

/// <summary>Forgets the agent socket when it closes, unless a newer one replaced it, and writes a DISCONNECT event.
/// The status stays: silence marks the instance unhealthy later (see the agent silence watch). No route: the agent
/// socket sends it.</summary>
public static class DisconnectAgent
{
    public sealed record Command(Guid InstanceId, Guid ConnectionId, string Reason) : ICommand<bool>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.InstanceId).NotEmpty();
            RuleFor(command => command.ConnectionId).NotEmpty();
        }
    }

    internal sealed class Handler(DbSession db, AuditTrail audit, EventHub hub, TimeProvider clock) : IRequestHandler<Command, bool>
    {
        private const string Disconnect = """
            UPDATE fleet.instances SET agent_connection_id = NULL, agent_replica = NULL
            WHERE id = @InstanceId AND agent_connection_id = @ConnectionId
            RETURNING name
            """;

        private const string RecordEvent = """
            INSERT INTO fleet.instance_events (id, instance_id, event_type, occurred_at, metadata)
            VALUES (@EventId, @InstanceId, 'DISCONNECT', @Now, CAST(@Metadata AS jsonb))
            """;

        public async Task<bool> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = await db.QuerySingleOrDefaultAsync<string>(Disconnect, new { command.InstanceId, command.ConnectionId }, cancellationToken);
            if (name is null)
            {
                return false;
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var metadata = new { triggered_by = "agent", connectionId = command.ConnectionId, reason = command.Reason };
            await db.ExecuteAsync(RecordEvent, new { EventId = Guid.CreateVersion7(), command.InstanceId, Now = now, Metadata = JsonSerializer.Serialize(metadata) }, cancellationToken);
            await hub.PublishAsync(db, $"fleet.instances.{command.InstanceId}", new { eventType = "DISCONNECT", instanceId = command.InstanceId, metadata, ts = now }, cancellationToken);
            audit.Record("agent.disconnect", "instance", command.InstanceId.ToString(), name, new { connectionId = command.ConnectionId, reason = command.Reason });
            return true;
        }
    }
}
