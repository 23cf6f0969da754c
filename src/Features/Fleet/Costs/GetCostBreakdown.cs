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

/// <summary><c>GET /api/v1/costs/breakdown?from=&amp;to=&amp;instanceId=&amp;provider=</c> (seed 004): the range's spend per
/// instance and component → <c>{rows: [{instanceId, instanceName, provider, region, totalUsd, computeUsd, storageUsd,
/// networkUsd, llmUsd, percentOfTotal}] (most expensive first), totalUsd, periodStart, periodEnd}</c>.</summary>
public static class GetCostBreakdown
{
    public sealed record Query(DateTime? From, DateTime? To, Guid? InstanceId, string? Provider) : IQuery<Response>;

    public sealed record Row(
        Guid InstanceId, string InstanceName, string Provider, string? Region, decimal TotalUsd, decimal ComputeUsd, decimal StorageUsd, decimal NetworkUsd, decimal LlmUsd,
        decimal PercentOfTotal);

    public sealed record Response(IReadOnlyList<Row> Rows, decimal TotalUsd, DateTime PeriodStart, DateTime PeriodEnd);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Provider).MaximumLength(32).OverridePropertyName("provider");
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Select = $"""
            SELECT e.instance_id, i.name AS instance_name, i.provider, i.region, {CostSums.Columns}, 0::numeric AS percent_of_total
            FROM {CostWindow.Entries}
            GROUP BY e.instance_id, i.name, i.provider, i.region
            ORDER BY sum(e.total_usd) DESC, i.name
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var window = CostWindow.Of(query.From, query.To, query.InstanceId, query.Provider, clock.GetUtcNow().UtcDateTime);
            var rows = await db.QueryAsync<Row>(Select, window.Parameters(request.RequiredCaller), cancellationToken);
            var total = rows.Sum(row => row.TotalUsd);
            return new Response(
                [.. rows.Select(row => row with
                {
                    TotalUsd = CostModel.Cents(row.TotalUsd),
                    ComputeUsd = CostModel.Cents(row.ComputeUsd),
                    StorageUsd = CostModel.Cents(row.StorageUsd),
                    NetworkUsd = CostModel.Cents(row.NetworkUsd),
                    LlmUsd = CostModel.Cents(row.LlmUsd),
                    PercentOfTotal = CostModel.Percent(row.TotalUsd, total),
                })],
                CostModel.Cents(total), window.From, window.To);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/costs/breakdown", async (DateTime? from, DateTime? to, Guid? instanceId, string? provider, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(from, to, instanceId, provider), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetCostBreakdown))
                .WithTags(FleetRoutes.Costs)
                .WithSummary("Fleet-wide cost breakdown")
                .ProducesErrors(400, 401, 403);
    }
}
