using Capstan.Infrastructure.Clusters;
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

namespace Capstan.Features.Clusters;

/// <summary><c>GET /v1/api/clusters/{name}</c> (seed 002): one cluster by name (or id); someone else's unshared
/// cluster is a 404 <c>Cluster not found</c>.</summary>
public static class GetCluster
{
    public sealed record Query(string Name) : IQuery<ClusterResponse>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Name).NotEmpty().MaximumLength(100);
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory) : IRequestHandler<Query, ClusterResponse>
    {
        public async Task<ClusterResponse> Handle(Query query, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var cluster = await directory.GetVisibleAsync(query.Name, caller, cancellationToken);
            return await ClusterShapes.LoadAsync(db, cluster.Id, caller, cancellationToken);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/clusters/{name}", async (string name, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(name), cancellationToken)))
                .RequirePermission(Permissions.ClusterRead)
                .WithName(nameof(GetCluster))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Get a specific cluster (seed 002)")
                .ProducesErrors(400, 401, 403, 404);
    }
}
