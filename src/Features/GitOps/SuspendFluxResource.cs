using Capstan.Infrastructure.Audit;
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

/// <summary><c>POST .../{namespace}/{name}/suspend</c> (seeds 000, 001): the JSON patch
/// <c>[{"op":"add","path":"/spec/suspend","value":true}]</c> (<c>application/json-patch+json</c>; the field is set,
/// never removed). Needs write. <c>{success, message: "Suspended &lt;name&gt;"}</c>.</summary>
public static class SuspendFluxResource
{
    public sealed record Command(string ResourceType, string Namespace, string Name, string? Cluster, string? ClusterCookie) : ICommand<Response>;

    public sealed record Response(bool Success, string Message);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.ResourceType).Must(type => FluxResourceTypes.Resolve(type) is not null).WithMessage(command => $"Invalid resource type: {command.ResourceType}. Valid types: {FluxResourceTypes.ValidTypes}");
            RuleFor(command => command.Namespace).Must(FluxGateway.IsNamespace).WithMessage(FluxGateway.NamespaceMessage);
            RuleFor(command => command.Name).Must(FluxGateway.IsName).WithMessage(FluxGateway.NameMessage);
        }
    }

    internal sealed class Handler(FluxGateway gateway, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var type = FluxGateway.ResolveType(command.ResourceType);
            var session = await gateway.OpenAsync(command.Cluster, command.ClusterCookie, cancellationToken);
            session.Access.Demand(FluxAction.Write, type.Kind, command.Namespace, session.Target);
            await FluxActions.SetSuspendedAsync(session.Client, type, command.Namespace, command.Name, suspend: true, cancellationToken);
            audit.Record("flux.suspend", type.Kind, $"{command.Namespace}/{command.Name}", command.Name, new { cluster = session.Cluster.Name });
            return new Response(true, $"Suspended {command.Name}");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/flux/{resourceType}/{namespace}/{name}/suspend", async (
                    string resourceType, string @namespace, string name, string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(resourceType, @namespace, name, cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken)))
                .RequirePermission(Permissions.FluxWrite)
                .WithName(nameof(SuspendFluxResource))
                .WithTags(GitOpsRoutes.Actions)
                .WithSummary("Suspend reconciliation (JSON patch /spec/suspend = true)")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
