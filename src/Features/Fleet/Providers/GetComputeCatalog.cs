using System.Text.Json.Serialization;
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
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Providers;

/// <summary><c>GET /api/v1/providers/{provider}/compute-catalog?region=</c> (seed 004): the provider's compute sizes with
/// prices, in the upstream's snake_case (reference sindri.md §8.15) → <c>{provider, sizes: [{id, name, provider, category,
/// vcpus, memory_gb, storage_gb, price_per_hour, price_per_month, price_source, regions}], storage_pricing: {gb_per_month},
/// network_pricing: {egress_gb_price, egress_free_gb}, fetched_at, source}</c>; <c>source</c> is <c>static</c> for the
/// data files, <c>live</c> for a catalog fetched from the provider API. 404 unknown provider, 400 unknown region, 503
/// when the provider has no catalog (its sizes only come from a provider API that is not configured).</summary>
public static class GetComputeCatalog
{
    public sealed record Query(string Provider, string? Region) : IQuery<Response>;

    public sealed record Size(
        string Id,
        string Name,
        string Provider,
        string Category,
        double Vcpus,
        [property: JsonPropertyName("memory_gb")] double MemoryGb,
        [property: JsonPropertyName("storage_gb")] double? StorageGb,
        [property: JsonPropertyName("price_per_hour")] decimal PricePerHour,
        [property: JsonPropertyName("price_per_month")] decimal PricePerMonth,
        [property: JsonPropertyName("price_source")] string PriceSource,
        IReadOnlyList<string> Regions);

    public sealed record StoragePricing([property: JsonPropertyName("gb_per_month")] decimal GbPerMonth);

    public sealed record NetworkPricing([property: JsonPropertyName("egress_gb_price")] decimal EgressGbPrice, [property: JsonPropertyName("egress_free_gb")] decimal EgressFreeGb);

    public sealed record Response(
        string Provider,
        string? Region,
        IReadOnlyList<Size> Sizes,
        [property: JsonPropertyName("storage_pricing")] StoragePricing StoragePricing,
        [property: JsonPropertyName("network_pricing")] NetworkPricing NetworkPricing,
        [property: JsonPropertyName("fetched_at")] DateTime FetchedAt,
        string Source);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Provider).NotEmpty().MaximumLength(64);
            RuleFor(query => query.Region).MaximumLength(64).OverridePropertyName("region");
        }
    }

    internal sealed class Handler(DbSession db, IConfiguration configuration) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var catalog = await ProviderCatalog.RequireAsync(db, configuration, query.Provider, cancellationToken);
            var document = catalog.Document;
            var region = string.IsNullOrWhiteSpace(query.Region) ? null : query.Region.Trim();
            if (region is not null && !document.Regions.Any(known => string.Equals(known.Id, region, StringComparison.OrdinalIgnoreCase)))
            {
                throw BadRequestException.ForField("region", $"region must be one of the regions of {document.Id}: {string.Join(", ", document.Regions.Select(known => known.Id))}");
            }

            if (document.ComputeTiers.Count == 0)
            {
                throw new ServiceUnavailableException($"No compute catalog for provider '{document.Id}': its sizes come from the provider API (configure Fleet:Pricing:ApiUrl and refresh)");
            }

            var regions = region is null ? document.Regions.Select(known => known.Id).ToList() : [region];
            var sizes = document.ComputeTiers
                .Select(tier => new Size(tier.Id, tier.Label, document.Id, "cpu", tier.Vcpu, tier.MemoryGb, tier.StorageGb, tier.PricePerHour, tier.PricePerMonth, catalog.Source == "api" ? "api" : document.PriceSource, regions))
                .ToList();
            return new Response(
                document.Id, region, sizes, new StoragePricing(document.Storage.GbPerMonth), new NetworkPricing(document.Network.EgressGbPrice, document.Network.EgressGbFree),
                catalog.FetchedAt, catalog.Source == "api" ? "live" : "static");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/providers/{provider}/compute-catalog", async (string provider, string? region, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(provider, region), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetComputeCatalog))
                .WithTags(FleetRoutes.ComputeCatalog)
                .WithSummary("Compute sizes with pricing for provider")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
