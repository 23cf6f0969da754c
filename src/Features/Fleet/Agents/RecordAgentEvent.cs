using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Mediation;
using FluentValidation;
using MediatR;

namespace Capstan.Features.Fleet.Agents;

/// <summary>Adds an event the agent reported (<c>event</c>, <c>event:instance</c>, <c>registration</c>: extension
/// installs and removals, errors…) to the instance's timeline. No route: the agent socket sends it.</summary>
public static class RecordAgentEvent
{
    [NotAudited("agent telemetry: the instance's own timeline")]
    public sealed record Command(Guid InstanceId, string EventType, JsonElement Metadata) : ICommand<Guid>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.InstanceId).NotEmpty();
            RuleFor(command => command.EventType).Must(type => FleetVocabulary.EventTypes.Contains(type))
                .WithMessage($"eventType must be one of: {string.Join(", ", FleetVocabulary.EventTypes)}");
            RuleFor(command => command.Metadata).Must(metadata => metadata.ValueKind == JsonValueKind.Undefined || metadata.GetRawText().Length <= 65_536).WithMessage("metadata must be at most 64 KiB");
        }
    }

    internal sealed class Handler(DbSession db, EventHub hub, TimeProvider clock) : IRequestHandler<Command, Guid>
    {
        private const string Insert = """
            INSERT INTO fleet.instance_events (id, instance_id, event_type, occurred_at, metadata)
            VALUES (@Id, @InstanceId, @EventType, @Now, CAST(@Metadata AS jsonb))
            """;

        public async Task<Guid> Handle(Command command, CancellationToken cancellationToken)
        {
            var id = Guid.CreateVersion7();
            var now = clock.GetUtcNow().UtcDateTime;
            var metadata = command.Metadata.ValueKind == JsonValueKind.Object ? command.Metadata.GetRawText() : "{}";
            await db.ExecuteAsync(Insert, new { Id = id, command.InstanceId, command.EventType, Now = now, Metadata = metadata }, cancellationToken);
            await hub.PublishAsync(
                db, $"fleet.instances.{command.InstanceId}", new { eventType = command.EventType, instanceId = command.InstanceId, metadata = JsonDocument.Parse(metadata).RootElement, ts = now }, cancellationToken);
            return id;
        }
    }
}
