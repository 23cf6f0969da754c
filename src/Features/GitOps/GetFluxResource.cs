using System.Text.Json.Nodes;
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

/// <summary><c>GET /api/v1/flux/{resourceType}/{namespace}/{name}</c> (seeds 000, 001): the object as the cluster has it
/// (<c>?status=true</c> reads the status subresource). Needs read on the type in the namespace.</summary>
public static class GetFluxResource
{
    public sealed record Query(string ResourceType, string Namespace, string Name, bool Status, string? Cluster, string? ClusterCookie) : IQuery<JsonObject>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.ResourceType).Must(type => FluxResourceTypes.Resolve(type) is not null).WithMessage(query => $"Invalid resource type: {query.ResourceType}. Valid types: {FluxResourceTypes.ValidTypes}");
            RuleFor(query => query.Namespace).Must(FluxGateway.IsNamespace).WithMessage(FluxGateway.NamespaceMessage);
            RuleFor(query => query.Name).Must(FluxGateway.IsName).WithMessage(FluxGateway.NameMessage);
        }
    }

    internal sealed class Handler(FluxGateway gateway) : IRequestHandler<Query, JsonObject>
    {
        public async Task<JsonObject> Handle(Query query, CancellationToken cancellationToken)
        {
            var type = FluxGateway.ResolveType(query.ResourceType);
            var session = await gateway.OpenAsync(query.Cluster, query.ClusterCookie, cancellationToken);
            session.Access.Demand(FluxAction.Read, type.Kind, query.Namespace, session.Target);
            return await session.Client.GetAsync(type.Resource, query.Namespace, query.Name, cancellationToken, query.Status ? "status" : null);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/flux/{resourceType}/{namespace}/{name}", async (
                    string resourceType, string @namespace, string name, bool? status, string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(resourceType, @namespace, name, status ?? false, cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken)))
                .RequirePermission(Permissions.FluxRead)
                .WithName(nameof(GetFluxResource))
                .WithTags(GitOpsRoutes.Resources)
                .WithSummary("Get a Flux resource")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
