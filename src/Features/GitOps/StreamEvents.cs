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

/// <summary>
/// <c>GET /api/v1/events</c> (seeds 000, 001; DESIGN §1.2). With <c>Accept: text/event-stream</c> it is seed 000's live
/// stream of Flux changes on the selected cluster: <c>data: {json}</c> frames only (Gyre's client reads
/// <c>onmessage</c>), CONNECTED first, then ADDED/MODIFIED/DELETED as the background watcher sees them on any replica,
/// HEARTBEAT every 30 s, SHUTDOWN at the end; at most 3 streams per session and 5 per user (429). Otherwise it is seed
/// 001's JSON list of recent Flux events, <c>?namespace=</c> and <c>limit</c> (1-1000, default 50). Cluster-wide
/// requests need a cluster-wide read policy; a namespace needs read there.
/// </summary>
public static class StreamEvents
{
    public sealed record Query(string? Namespace, int Limit, string? Cluster, string? ClusterCookie) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<KubernetesEventView> Events, int Total);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Namespace).Must(FluxGateway.IsNamespace).When(query => query.Namespace is not null).WithMessage(FluxGateway.NamespaceMessage);
            RuleFor(query => query.Limit).InclusiveBetween(1, 1000);
        }
    }

    internal sealed class Handler(FluxGateway gateway) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var session = await gateway.OpenAsync(query.Cluster, query.ClusterCookie, cancellationToken);
            if (query.Namespace is null)
            {
                session.Access.DemandClusterWideRead(null, session.Target);
            }
            else
            {
                session.Access.Demand(FluxAction.Read, null, query.Namespace, session.Target);
            }

            var events = await session.Client.ListAllAsync(KubernetesResourceType.Events, query.Namespace, null, cancellationToken, chunkSize: 1000);
            var views = FluxEvents.NewestFirst(events.Items.Select(FluxEvents.View).Where(FluxEvents.IsFlux)).Take(query.Limit).ToList();
            return new Response(views, views.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/events", async (string? @namespace, int? limit, string? cluster, HttpContext context, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    if (!context.Request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.OrdinalIgnoreCase))
                    {
                        return Results.Ok(await mediator.Send(new Query(@namespace, limit ?? 50, cluster, context.Request.Cookies[ClusterDirectory.CookieName]), cancellationToken));
                    }

                    await using var feed = await FluxLiveFeed.OpenAsync(context, cluster, cancellationToken);
                    var stream = await ServerSentEvents.StartAsync(context);
                    await feed.RunAsync((data, token) => stream.WriteEventAsync(null, data, cancellationToken: token), context.RequestAborted);
                    return Results.Empty;
                })
                .RequirePermission(Permissions.FluxRead)
                .WithName(nameof(StreamEvents))
                .WithTags(GitOpsRoutes.Live)
                .WithSummary("Live Flux changes (text/event-stream) or the recent Flux events (JSON)")
                .Produces<Response>(StatusCodes.Status200OK, "application/json", "text/event-stream")
                .ProducesErrors(400, 401, 403, 404, 429, 503);
    }
}
