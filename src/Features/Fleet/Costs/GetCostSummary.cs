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

/// <summary><c>GET /api/v1/costs/summary?from=&amp;to=&amp;instanceId=&amp;provider=</c> (seed 004): the range's spend →
/// <c>{totalUsd, computeUsd, storageUsd, networkUsd, llmUsd, byProvider: {provider: usd}, byInstance: [{instanceId,
/// instanceName, provider, totalUsd}] (most expensive first), periodStart, periodEnd, currency}</c>, in cents.</summary>
public static class GetCostSummary
{
    public sealed record Query(DateTime? From, DateTime? To, Guid? InstanceId, string? Provider) : IQuery<Response>;

    public sealed record InstanceTotal(Guid InstanceId, string InstanceName, string Provider, decimal TotalUsd);

    public sealed record Response(
        decimal TotalUsd, decimal ComputeUsd, decimal StorageUsd, decimal NetworkUsd, decimal LlmUsd, IReadOnlyDictionary<string, decimal> ByProvider,
        IReadOnlyList<InstanceTotal> ByInstance, DateTime PeriodStart, DateTime PeriodEnd, string Currency);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Provider).MaximumLength(32).OverridePropertyName("provider");
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Totals = $"SELECT {CostSums.Columns} FROM {CostWindow.Entries}";

        private const string Providers = $"SELECT e.provider AS key, sum(e.total_usd) AS total FROM {CostWindow.Entries} GROUP BY e.provider ORDER BY e.provider";

        private const string PerInstance = $"""
            SELECT e.instance_id, i.name AS instance_name, i.provider, sum(e.total_usd) AS total_usd
            FROM {CostWindow.Entries}
            GROUP BY e.instance_id, i.name, i.provider
            ORDER BY sum(e.total_usd) DESC, i.name
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var window = CostWindow.Of(query.From, query.To, query.InstanceId, query.Provider, clock.GetUtcNow().UtcDateTime);
            var parameters = window.Parameters(request.RequiredCaller);
            var sums = await db.QuerySingleAsync<CostSums>(Totals, parameters, cancellationToken);
            var byProvider = (await db.QueryAsync<(string Key, decimal Total)>(Providers, parameters, cancellationToken))
                .ToDictionary(row => row.Key, row => CostModel.Cents(row.Total), StringComparer.Ordinal);
            var byInstance = (await db.QueryAsync<InstanceTotal>(PerInstance, parameters, cancellationToken))
                .Select(row => row with { TotalUsd = CostModel.Cents(row.TotalUsd) })
                .ToList();
            return new Response(
                CostModel.Cents(sums.TotalUsd), CostModel.Cents(sums.ComputeUsd), CostModel.Cents(sums.StorageUsd), CostModel.Cents(sums.NetworkUsd), CostModel.Cents(sums.LlmUsd),
                byProvider, byInstance, window.From, window.To, "USD");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/costs/summary", async (DateTime? from, DateTime? to, Guid? instanceId, string? provider, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(from, to, instanceId, provider), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetCostSummary))
                .WithTags(FleetRoutes.Costs)
                .WithSummary("Overall cost summary for date range")
                .ProducesErrors(400, 401, 403);
    }
}
