using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Clusters;

/// <summary><c>GET /v1/api/clusters/default</c> (seed 002): the cluster the caller set as default; 404
/// <c>No default cluster set</c> otherwise.</summary>
public static class GetDefaultCluster
{
    public sealed record Query : IQuery<ClusterResponse>;

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory) : IRequestHandler<Query, ClusterResponse>
    {
        public async Task<ClusterResponse> Handle(Query query, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var cluster = await directory.DefaultAsync(caller, explicitOnly: true, cancellationToken) ?? throw new NotFoundException("No default cluster set");
            return await ClusterShapes.LoadAsync(db, cluster.Id, caller, cancellationToken);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/clusters/default", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.ClusterRead)
                .WithName(nameof(GetDefaultCluster))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Get the default cluster (seed 002)")
                .ProducesErrors(401, 403, 404);
    }
}
