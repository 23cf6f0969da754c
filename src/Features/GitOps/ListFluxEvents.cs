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

/// <summary><c>GET /api/v1/flux/events?limit=</c> (seed 000): the newest Kubernetes events of the Flux controllers and
/// Flux objects across the selected cluster (<c>limit</c> 1-1000, default 20; all events are scanned, in chunks of
/// 1000; Kubernetes keeps them about an hour).
/// Needs a cluster-wide read policy. <c>{events, total}</c>.</summary>
public static class ListFluxEvents
{
    private const int Scan = 1000;

    public sealed record Query(int Limit, string? Cluster, string? ClusterCookie) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<KubernetesEventView> Events, int Total);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Limit).InclusiveBetween(1, 1000);
    }

    internal sealed class Handler(FluxGateway gateway) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var session = await gateway.OpenAsync(query.Cluster, query.ClusterCookie, cancellationToken);
            session.Access.DemandClusterWideRead(null, session.Target);
            var events = await session.Client.ListAllAsync(KubernetesResourceType.Events, null, null, cancellationToken, chunkSize: Scan);
            var views = FluxEvents.NewestFirst(events.Items.Select(FluxEvents.View).Where(FluxEvents.IsFlux)).Take(query.Limit).ToList();
            return new Response(views, views.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/flux/events", async (int? limit, string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(limit ?? 20, cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken)))
                .RequirePermission(Permissions.FluxRead)
                .WithName(nameof(ListFluxEvents))
                .WithTags(GitOpsRoutes.Diagnostics)
                .WithSummary("Recent Flux events")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
