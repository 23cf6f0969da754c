using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Flux;
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

/// <summary><c>GET /api/v1/flux/overview</c> (seed 000): per Flux Kind on the selected cluster, how many objects there
/// are and how many are healthy, failed, suspended, progressing or unknown (Gyre's classification). Kinds that cannot
/// be listed (CRD not installed, no permission) are left out and <c>partialFailure</c> is set. Needs a cluster-wide
/// read policy.</summary>
public static class GetFluxOverview
{
    public sealed record Query(string? Cluster, string? ClusterCookie) : IQuery<Response>;

    public sealed record TypeSummary(string Type, string Plural, int Total, int Healthy, int Failed, int Suspended, int Progressing, int Unknown);

    public sealed record Response(DateTimeOffset Timestamp, bool PartialFailure, IReadOnlyList<TypeSummary> Results, string Cluster);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Cluster).MaximumLength(100);
    }

    internal sealed class Handler(FluxGateway gateway, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var session = await gateway.OpenAsync(query.Cluster, query.ClusterCookie, cancellationToken);
            session.Access.DemandClusterWideRead(null, session.Target);
            var lists = await Task.WhenAll(FluxResourceTypes.All.Select(async type =>
            {
                try
                {
                    return (type, (IReadOnlyList<System.Text.Json.Nodes.JsonObject>?)(await session.Client.ListAllAsync(type.Resource, null, null, cancellationToken)).Items);
                }
                catch (KubernetesApiException exception) when (exception.StatusCode is 403 or 404)
                {
                    return (type, null);
                }
            }));

            var results = lists
                .Where(list => list.Item2 is not null)
                .Select(list =>
                {
                    var health = list.Item2!.Select(FluxStatus.Health).ToList();
                    return new TypeSummary(
                        list.type.Kind,
                        list.type.Plural,
                        health.Count,
                        health.Count(state => state == "healthy"),
                        health.Count(state => state == "failed"),
                        health.Count(state => state == "suspended"),
                        health.Count(state => state == "progressing"),
                        health.Count(state => state == "unknown"));
                })
                .ToList();
            return new Response(clock.GetUtcNow(), results.Count < FluxResourceTypes.All.Count, results, session.Cluster.Name);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/flux/overview", async (string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken)))
                .RequirePermission(Permissions.FluxRead)
                .WithName(nameof(GetFluxOverview))
                .WithTags(GitOpsRoutes.Diagnostics)
                .WithSummary("Health counts per Flux kind")
                .ProducesErrors(401, 403, 404, 503);
    }
}
