using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Costs;

/// <summary><c>GET /api/v1/costs/idle-instances</c> (seed 004, the dashboard's alias): instances idle for 48 hours
/// (<see cref="IdleInstances"/>) → <c>{instances: [{instanceId, instanceName, provider, region, status, idleSinceDays,
/// wastedUsdMo, avgCpuPercent, avgMemPercent}], totalWastedUsdMo}</c>.</summary>
public static class ListIdleInstancesReport
{
    public sealed record Query : IQuery<Response>;

    public sealed record Instance(
        Guid InstanceId, string InstanceName, string Provider, string? Region, string Status, double IdleSinceDays, decimal WastedUsdMo, double AvgCpuPercent, double AvgMemPercent);

    public sealed record Response(IReadOnlyList<Instance> Instances, decimal TotalWastedUsdMo);

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow().UtcDateTime;
            var rows = await db.QueryAsync<IdleInstances.Row>(IdleInstances.Select, IdleInstances.Parameters(request.RequiredCaller, now, 48), cancellationToken);
            var instances = rows
                .Select(row => new Instance(
                    row.InstanceId, row.InstanceName, row.Provider, row.Region, row.Status, Math.Round((now - row.LastActivityAt).TotalDays, 1), CostModel.Cents(row.MonthlyUsd),
                    Math.Round(row.AvgCpu, 2), Math.Round(row.AvgMem, 2)))
                .ToList();
            return new Response(instances, instances.Sum(instance => instance.WastedUsdMo));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/costs/idle-instances", async (IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListIdleInstancesReport))
                .WithTags(FleetRoutes.Costs)
                .WithSummary("Idle instances (alias)")
                .ProducesErrors(401, 403);
    }
}
