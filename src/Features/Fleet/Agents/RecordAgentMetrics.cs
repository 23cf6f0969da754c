using Capstan.Features.Fleet.Metrics;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Mediation;
using FluentValidation;
using MediatR;

namespace Capstan.Features.Fleet.Agents;

/// <summary>Stores a metric snapshot an agent sent over its socket (<c>metrics</c> / <c>metrics:update</c>) in the
/// day's partition. No route: the agent socket sends it (REST agents put <c>metrics</c> in their heartbeat).</summary>
public static class RecordAgentMetrics
{
    [NotAudited("agent telemetry: metric snapshots every few seconds per instance")]
    public sealed record Command(Guid InstanceId, MetricSample Sample) : ICommand<bool>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.InstanceId).NotEmpty();
            RuleFor(command => command.Sample).NotNull().SetValidator(new MetricSample.Rules());
        }
    }

    internal sealed class Handler(DbSession db, TimeProvider clock) : IRequestHandler<Command, bool>
    {
        public async Task<bool> Handle(Command command, CancellationToken cancellationToken)
        {
            await command.Sample.InsertAsync(db, command.InstanceId, clock.GetUtcNow().UtcDateTime, cancellationToken);
            return true;
        }
    }
}
