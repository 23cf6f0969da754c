using Capstan.Features.Fleet.Providers;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Costs;

/// <summary><c>GET /api/v1/costs/pricing</c> (seed 004): the price tables the cost model uses (providers it prices) →
/// <c>{providers: {fly: {name, computeTiers: [{id, label, vcpu, memoryGb, pricePerMonth, pricePerHour}], storage:
/// {gbPerMonth}, network: {egressGbFree, egressGbPrice}, source, fetchedAt}, ...}}</c>.</summary>
public static class GetPricing
{
    public sealed record Query : IQuery<Response>;

    public sealed record Tier(string Id, string Label, double Vcpu, double MemoryGb, decimal PricePerMonth, decimal PricePerHour);

    public sealed record ProviderPricing(string Name, IReadOnlyList<Tier> ComputeTiers, StoragePrice Storage, NetworkPrice Network, string Source, DateTime FetchedAt);

    public sealed record Response(IReadOnlyDictionary<string, ProviderPricing> Providers);

    internal sealed class Handler(DbSession db, IConfiguration configuration) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken) =>
            new((await ProviderCatalog.AllAsync(db, configuration, cancellationToken))
                .Where(entry => entry.Document.CostModel)
                .ToDictionary(
                    entry => entry.Document.Id,
                    entry => new ProviderPricing(
                        entry.Document.Name,
                        [.. entry.Document.ComputeTiers.Select(tier => new Tier(tier.Id, tier.Label, tier.Vcpu, tier.MemoryGb, tier.PricePerMonth, tier.PricePerHour))],
                        entry.Document.Storage,
                        entry.Document.Network,
                        entry.Source,
                        entry.FetchedAt),
                    StringComparer.Ordinal));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/costs/pricing", async (IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetPricing))
                .WithTags(FleetRoutes.Costs)
                .WithSummary("Provider pricing tables")
                .ProducesErrors(401, 403);
    }
}
