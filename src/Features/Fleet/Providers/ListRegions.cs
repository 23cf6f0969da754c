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
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Providers;

/// <summary><c>GET /api/v1/providers/{provider}/regions</c> (seed 004): the provider's regions →
/// <c>{provider, regions: [{id, name, location}], data}</c>; 404 "Provider '&lt;p&gt;' not found".</summary>
public static class ListRegions
{
    public sealed record Query(string Provider) : IQuery<Response>;

    public sealed record Response(string Provider, IReadOnlyList<ProviderRegion> Regions, IReadOnlyList<ProviderRegion> Data);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Provider).NotEmpty().MaximumLength(64);
    }

    internal sealed class Handler(DbSession db, IConfiguration configuration) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var catalog = await ProviderCatalog.RequireAsync(db, configuration, query.Provider, cancellationToken);
            return new Response(catalog.Document.Id, catalog.Document.Regions, catalog.Document.Regions);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/providers/{provider}/regions", async (string provider, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(provider), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListRegions))
                .WithTags(FleetRoutes.Providers)
                .WithSummary("Regions for provider")
                .ProducesErrors(401, 403, 404);
    }
}
