using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Clusters;

/// <summary><c>GET /api/v1/clusters</c> (seed 001): the clusters the caller can select: platform clusters, their own
/// and those shared with them, oldest first, with their contexts and connection state.</summary>
public static class ListClusters
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyList<RegistryClusterView> Clusters, int Total);

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var rows = await ClusterShapes.VisibleAsync(db, request.RequiredCaller, cancellationToken);
            return new Response([.. rows.Select(ClusterShapes.ToRegistryView)], rows.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/clusters", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.ClusterRead)
                .WithName(nameof(ListClusters))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("List clusters (seed 001)")
                .ProducesErrors(401, 403);
    }
}
