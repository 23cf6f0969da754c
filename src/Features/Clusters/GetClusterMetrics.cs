using Capstan.Infrastructure.Clusters;
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

/// <summary><c>GET /v1/api/clusters/{name}/metrics</c> (seed 002): live from the cluster: component health, CPU
/// (millicores), memory and storage (bytes) used against capacity (usage from metrics-server, else capacity minus
/// allocatable; storage is claimed PVC capacity against node ephemeral storage), node and pod counts. 503 when the
/// cluster does not answer.</summary>
public static class GetClusterMetrics
{
    public sealed record Query(string Name) : IQuery<ClusterMetrics>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Name).NotEmpty().MaximumLength(100);
    }

    internal sealed class Handler(RequestContext request, ClusterDirectory directory, TimeProvider clock) : IRequestHandler<Query, ClusterMetrics>
    {
        public async Task<ClusterMetrics> Handle(Query query, CancellationToken cancellationToken)
        {
            var cluster = await directory.GetVisibleAsync(query.Name, request.RequiredCaller, cancellationToken);
            return await ClusterInspector.ReadMetricsAsync(directory.Connect(cluster), cluster.Name, clock, cancellationToken);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/clusters/{name}/metrics", async (string name, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(name), cancellationToken)))
                .RequirePermission(Permissions.ClusterRead)
                .WithName(nameof(GetClusterMetrics))
                .WithTags(ClusterRoutes.Registry)
                .WithSummary("Get cluster resource metrics (seed 002)")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
