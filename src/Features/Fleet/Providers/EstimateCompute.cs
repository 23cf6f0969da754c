using Capstan.Features.Fleet.Costs;
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

/// <summary><c>GET /api/v1/providers/{provider}/compute-catalog/estimate?size_id=&amp;disk_gb=20&amp;egress_gb=10</c>
/// (seed 004): a month of the size with that disk and egress (<see cref="CostModel.EstimateMonthly"/>) →
/// <c>{provider, sizeId, diskGb, egressGb, compute, storage, network, total, currency: "USD"}</c>; 400 without
/// <c>size_id</c>, 404 unknown provider or size.</summary>
public static class EstimateCompute
{
    public sealed record Query(string Provider, string? SizeId, double? DiskGb, double? EgressGb) : IQuery<Response>;

    public sealed record Response(string Provider, string SizeId, double DiskGb, double EgressGb, decimal Compute, decimal Storage, decimal Network, decimal Total, string Currency);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.SizeId).NotEmpty().MaximumLength(128).OverridePropertyName("size_id").WithMessage("size_id is required");
            RuleFor(query => query.DiskGb).InclusiveBetween(0, 1_000_000).OverridePropertyName("disk_gb");
            RuleFor(query => query.EgressGb).InclusiveBetween(0, 10_000_000).OverridePropertyName("egress_gb");
        }
    }

    internal sealed class Handler(DbSession db, IConfiguration configuration) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var document = (await ProviderCatalog.RequireAsync(db, configuration, query.Provider, cancellationToken)).Document;
            var tier = document.Tier(query.SizeId!.Trim()) ?? throw new NotFoundException($"Size '{query.SizeId}' not found for provider '{document.Id}'");
            var disk = query.DiskGb ?? 20;
            var egress = query.EgressGb ?? 10;
            var estimate = CostModel.EstimateMonthly(document, tier, disk, egress);
            return new Response(document.Id, tier.Id, disk, egress, estimate.Compute, estimate.Storage, estimate.Network, estimate.Total, "USD");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/providers/{provider}/compute-catalog/estimate",
                    async (string provider, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "size_id")] string? sizeId, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "disk_gb")] double? diskGb,
                        [Microsoft.AspNetCore.Mvc.FromQuery(Name = "egress_gb")] double? egressGb, IMediator mediator, CancellationToken cancellationToken) =>
                        TypedResults.Ok(await mediator.Send(new Query(provider, sizeId, diskGb, egressGb), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(EstimateCompute))
                .WithTags(FleetRoutes.ComputeCatalog)
                .WithSummary("Cost estimate for a specific size + disk/egress")
                .ProducesErrors(400, 401, 403, 404);
    }
}
