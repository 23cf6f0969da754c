using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Costs;

/// <summary><c>GET /api/v1/costs/idle?thresholdHours=48</c> (seed 004): idle instances (<see cref="IdleInstances"/>;
/// threshold 1..8760 hours) → <c>{instances: [{instanceId, instanceName, provider, region, status, lastActivityAt,
/// idleSinceHours, estimatedMonthlyCost}], thresholdHours, total}</c>.</summary>
public static class ListIdleInstances
{
    public sealed record Query(double? ThresholdHours) : IQuery<Response>;

    public sealed record Instance(
        Guid InstanceId, string InstanceName, string Provider, string? Region, string Status, DateTime LastActivityAt, double IdleSinceHours, decimal EstimatedMonthlyCost);

    public sealed record Response(IReadOnlyList<Instance> Instances, double ThresholdHours, int Total);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.ThresholdHours).InclusiveBetween(1, 8760).WithMessage("thresholdHours must be between 1 and 8760").OverridePropertyName("thresholdHours");
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow().UtcDateTime;
            var threshold = query.ThresholdHours ?? 48;
            var rows = await db.QueryAsync<IdleInstances.Row>(IdleInstances.Select, IdleInstances.Parameters(request.RequiredCaller, now, threshold), cancellationToken);
            var instances = rows
                .Select(row => new Instance(
                    row.InstanceId, row.InstanceName, row.Provider, row.Region, row.Status, row.LastActivityAt, Math.Round((now - row.LastActivityAt).TotalHours, 1), CostModel.Cents(row.MonthlyUsd)))
                .ToList();
            return new Response(instances, threshold, instances.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/costs/idle", async (double? thresholdHours, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(thresholdHours), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListIdleInstances))
                .WithTags(FleetRoutes.Costs)
                .WithSummary("Idle instance list")
                .ProducesErrors(400, 401, 403);
    }
}
