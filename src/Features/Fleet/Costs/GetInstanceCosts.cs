using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
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

/// <summary><c>GET /api/v1/costs/instances/{id}?from=&amp;to=</c> (seed 004): one instance's spend in the range →
/// <c>{instanceId, instanceName, provider, totalUsd, computeUsd, storageUsd, networkUsd, llmUsd, entries: [{id,
/// periodStart, periodEnd, computeUsd, storageUsd, networkUsd, llmUsd, totalUsd, source}] (newest first)}</c>; 404 for
/// an unknown instance or one of a team the caller is not in.</summary>
public static class GetInstanceCosts
{
    public sealed record Query(Guid Id, DateTime? From, DateTime? To) : IQuery<Response>;

    public sealed record Entry(Guid Id, DateTime PeriodStart, DateTime PeriodEnd, decimal ComputeUsd, decimal StorageUsd, decimal NetworkUsd, decimal LlmUsd, decimal TotalUsd, string Source);

    public sealed record Response(
        Guid InstanceId, string InstanceName, string Provider, decimal TotalUsd, decimal ComputeUsd, decimal StorageUsd, decimal NetworkUsd, decimal LlmUsd,
        IReadOnlyList<Entry> Entries, DateTime PeriodStart, DateTime PeriodEnd);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Instance = $"SELECT i.name, i.provider FROM fleet.instances i WHERE i.id = @InstanceId AND {FleetVisibility.Predicate}";

        private const string Entries = $"""
            SELECT e.id, e.period_start, e.period_end, e.compute_usd, e.storage_usd, e.network_usd, e.llm_usd, e.total_usd, e.source
            FROM {CostWindow.Entries}
            ORDER BY e.period_start DESC
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var window = CostWindow.Of(query.From, query.To, query.Id, null, clock.GetUtcNow().UtcDateTime);
            var parameters = window.Parameters(request.RequiredCaller);
            var instance = await db.QuerySingleOrDefaultAsync<InstanceRow>(Instance, parameters, cancellationToken)
                ?? throw new NotFoundException($"Instance '{query.Id}' not found");
            var entries = (await db.QueryAsync<Entry>(Entries, parameters, cancellationToken))
                .Select(entry => entry with
                {
                    ComputeUsd = CostModel.Cents(entry.ComputeUsd),
                    StorageUsd = CostModel.Cents(entry.StorageUsd),
                    NetworkUsd = CostModel.Cents(entry.NetworkUsd),
                    LlmUsd = CostModel.Cents(entry.LlmUsd),
                    TotalUsd = CostModel.Cents(entry.TotalUsd),
                })
                .ToList();
            var raw = await db.QuerySingleAsync<CostSums>($"SELECT {CostSums.Columns} FROM {CostWindow.Entries}", parameters, cancellationToken);
            return new Response(
                query.Id, instance.Name, instance.Provider, CostModel.Cents(raw.TotalUsd), CostModel.Cents(raw.ComputeUsd), CostModel.Cents(raw.StorageUsd), CostModel.Cents(raw.NetworkUsd),
                CostModel.Cents(raw.LlmUsd), entries, window.From, window.To);
        }
    }

    private sealed record InstanceRow
    {
        public string Name { get; init; } = string.Empty;

        public string Provider { get; init; } = string.Empty;
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/costs/instances/{id}", async (Guid id, DateTime? from, DateTime? to, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id, from, to), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetInstanceCosts))
                .WithTags(FleetRoutes.Costs)
                .WithSummary("Per-instance cost breakdown")
                .ProducesErrors(400, 401, 403, 404);
    }
}
