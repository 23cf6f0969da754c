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

namespace Capstan.Features.Fleet.Providers;

/// <summary><c>GET /api/v1/providers</c> (seed 004): the providers instances can run on, from the provider catalogs →
/// <c>{providers: [{id, name, description}], data}</c> ordered by id.</summary>
public static class ListProviders
{
    public sealed record Query : IQuery<Response>;

    public sealed record Provider(string Id, string Name, string Description);

    public sealed record Response(IReadOnlyList<Provider> Providers, IReadOnlyList<Provider> Data);

    internal sealed class Handler(DbSession db, IConfiguration configuration) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var providers = (await ProviderCatalog.AllAsync(db, configuration, cancellationToken))
                .Select(entry => new Provider(entry.Document.Id, entry.Document.Name, entry.Document.Description))
                .ToList();
            return new Response(providers, providers);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/providers", async (IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListProviders))
                .WithTags(FleetRoutes.Providers)
                .WithSummary("List supported providers")
                .ProducesErrors(401, 403);
    }
}
