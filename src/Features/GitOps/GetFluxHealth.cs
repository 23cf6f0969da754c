using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.GitOps;

/// <summary>
/// <c>GET /api/v1/flux/health</c> (seed 000): public, as in Gyre. Anonymous callers get <c>{status: "healthy"}</c> and
/// nothing about clusters. A signed-in caller also gets <c>kubernetes: {connected, clusterId, clusterName,
/// configStrategy, configSource, currentContext, availableContexts, connectionPool}</c> for their selected cluster,
/// probed with a one-item pod list; 503 <c>Unable to connect to Kubernetes cluster</c> when it does not answer.
/// </summary>
public static class GetFluxHealth
{
    public sealed record Query(string? Cluster, string? ClusterCookie) : IQuery<Response>;

    public sealed record KubernetesStatus(
        bool Connected,
        Guid? ClusterId,
        string? ClusterName,
        string ConfigStrategy,
        string? ConfigSource,
        string? CurrentContext,
        IReadOnlyList<string> AvailableContexts,
        KubernetesPoolStats ConnectionPool,
        string? Message);

    public sealed record Response(string Status, KubernetesStatus? Kubernetes);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Cluster).MaximumLength(100);
    }

    internal sealed class Handler(RequestContext request, ClusterDirectory directory, DbSession db, KubernetesClientPool pool) : IRequestHandler<Query, Response>
    {
        private const string Names = $"SELECT c.name FROM clusters.clusters c WHERE {ClusterDirectory.Visible} ORDER BY c.created_at, c.id";

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            // Why it is public: Gyre's probe and status page call it anonymously; they learn only "healthy".
            if (request.Caller is not { } caller)
            {
                return new Response("healthy", null);
            }

            var available = await db.QueryAsync<string>(Names, new { caller.UserId, Manage = caller.Has(Permissions.ClusterManage) }, cancellationToken);
            RegisteredCluster? cluster;
            try
            {
                cluster = await directory.SelectAsync(caller, query.Cluster, query.ClusterCookie, cancellationToken);
            }
            catch (NotFoundException exception) when (query.Cluster is null)
            {
                return new Response("healthy", new KubernetesStatus(false, null, null, "registry", null, null, available, pool.Stats, exception.Message));
            }

            var client = directory.Connect(cluster);
            try
            {
                await client.ListAsync(KubernetesResourceType.Pods, client.DefaultNamespace ?? "default", new ListOptions { Limit = 1 }, cancellationToken);
            }
            catch (KubernetesApiException exception) when (exception.StatusCode != 403)
            {
                throw new ServiceUnavailableException($"Unable to connect to Kubernetes cluster '{cluster.Name}': {exception.Message}");
            }

            return new Response("healthy", new KubernetesStatus(true, cluster.Id, cluster.Name, "registry", cluster.AuthType, cluster.Context, available, pool.Stats, null));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/flux/health", async (string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken)))
                .AllowAnonymous() // Public in Gyre (its probe and status page); anonymous callers learn only "healthy".
                .WithName(nameof(GetFluxHealth))
                .WithTags(GitOpsRoutes.Diagnostics)
                .WithSummary("Flux API health (public; cluster details for signed-in callers)")
                .ProducesErrors(404, 503);
    }
}
