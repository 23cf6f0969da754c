using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Flux;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.GitOps;

/// <summary><c>GET .../{namespace}/{name}/events</c> (seed 000): the object's Kubernetes events
/// (<c>fieldSelector=involvedObject.name=&lt;name&gt;,involvedObject.kind=&lt;Kind&gt;</c> in its namespace), newest
/// first. Needs read; 404 when the object does not exist. <c>{events: [K8sEvent]}</c>.</summary>
public static class GetFluxResourceEvents
{
    public sealed record Query(string ResourceType, string Namespace, string Name, string? Cluster, string? ClusterCookie) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<KubernetesEventView> Events, int Total);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.ResourceType).Must(type => FluxResourceTypes.Resolve(type) is not null).WithMessage(query => $"Invalid resource type: {query.ResourceType}. Valid types: {FluxResourceTypes.ValidTypes}");
            RuleFor(query => query.Namespace).Must(FluxGateway.IsNamespace).WithMessage(FluxGateway.NamespaceMessage);
            RuleFor(query => query.Name).Must(FluxGateway.IsName).WithMessage(FluxGateway.NameMessage);
        }
    }

    internal sealed class Handler(FluxGateway gateway) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var type = FluxGateway.ResolveType(query.ResourceType);
            var session = await gateway.OpenAsync(query.Cluster, query.ClusterCookie, cancellationToken);
            session.Access.Demand(FluxAction.Read, type.Kind, query.Namespace, session.Target);

            // A missing object is a 404 (the cluster's own message), not an empty list.
            await session.Client.GetAsync(type.Resource, query.Namespace, query.Name, cancellationToken);
            var events = await session.Client.ListEventsAsync(query.Namespace, $"involvedObject.name={query.Name},involvedObject.kind={type.Kind}", null, cancellationToken);
            var views = FluxEvents.NewestFirst(events.Select(FluxEvents.View)).ToList();
            return new Response(views, views.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/flux/{resourceType}/{namespace}/{name}/events", async (
                    string resourceType, string @namespace, string name, string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(resourceType, @namespace, name, cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken)))
                .RequirePermission(Permissions.FluxRead)
                .WithName(nameof(GetFluxResourceEvents))
                .WithTags(GitOpsRoutes.Diagnostics)
                .WithSummary("Events of a Flux resource")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
