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

/// <summary><c>GET /v1/api/clusters</c> (seed 002): <c>{clusters: [ClusterResponse], default: "&lt;id or empty&gt;"}</c>,
/// the caller's own clusters, those shared with them and the platform's.</summary>
public static class ListOwnClusters
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyList<ClusterResponse> Clusters, [property: System.Text.Json.Serialization.JsonPropertyName("default")] string Default, int Total);

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var clusters = (await ClusterShapes.VisibleAsync(db, caller, cancellationToken)).Select(row => ClusterShapes.ToResponse(row, caller)).ToList();
            return new Response(clusters, clusters.FirstOrDefault(cluster => cluster.Default)?.Id.ToString() ?? string.Empty, clusters.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/clusters", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.ClusterRead)
                .WithName(nameof(ListOwnClusters))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("List all clusters (seed 002)")
                .ProducesErrors(401, 403);
    }
}
