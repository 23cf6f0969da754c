using Capstan.Features.Fleet.Instances;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Mediation;
using FluentValidation;
using MediatR;

namespace Capstan.Features.Fleet.Agents;

/// <summary>Stores a <c>heartbeat</c> the agent sent over its socket, as the REST heartbeat route does (both write
/// through <see cref="HeartbeatReport.RecordAsync"/>); the socket answers <c>heartbeat:pong</c> with the outcome. No
/// route: the socket resolved (and may report for) its instance when it connected. A destroyed instance is a 409.</summary>
public static class RecordAgentHeartbeat
{
    [NotAudited("agent telemetry: one heartbeat every few seconds per instance")]
    public sealed record Command(Guid InstanceId, HeartbeatReport Heartbeat) : ICommand<HeartbeatReport.Outcome>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            var rules = new HeartbeatReport.Rules();
            RuleFor(command => command.InstanceId).NotEmpty();
            RuleFor(command => command.Heartbeat).NotNull();

            // The report's own field names (cpuPercent, extensions...), as the agent sent them.
            RuleFor(command => command.Heartbeat).Custom((heartbeat, context) =>
            {
                foreach (var failure in heartbeat is null ? [] : rules.Validate(heartbeat).Errors)
                {
                    context.AddFailure(failure);
                }
            });
        }
    }

    internal sealed class Handler(DbSession db, EventHub hub, TimeProvider clock) : IRequestHandler<Command, HeartbeatReport.Outcome>
    {
        private const string Current = "SELECT status FROM fleet.instances WHERE id = @Id FOR UPDATE";

        public async Task<HeartbeatReport.Outcome> Handle(Command command, CancellationToken cancellationToken)
        {
            var status = await db.ExecuteScalarAsync<string>(Current, new { Id = command.InstanceId }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{command.InstanceId}' not found");
            if (status == "DESTROYED")
            {
                throw new ConflictException($"Instance '{command.InstanceId}' is destroyed; register it again to report");
            }

            return await command.Heartbeat.RecordAsync(db, hub, command.InstanceId, status, clock.GetUtcNow().UtcDateTime, cancellationToken);
        }
    }
}
