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

/// <summary><c>DELETE /api/v1/flux/{resourceType}/{namespace}/{name}</c> (seeds 000, 001): deletes the object (a plain
/// Kubernetes DELETE). Needs Flux RBAC <c>admin</c> on it. 204 with no body.</summary>
public static class DeleteFluxResource
{
    public sealed record Command(string ResourceType, string Namespace, string Name, string? Cluster, string? ClusterCookie) : ICommand<bool>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.ResourceType).Must(type => FluxResourceTypes.Resolve(type) is not null).WithMessage(command => $"Invalid resource type: {command.ResourceType}. Valid types: {FluxResourceTypes.ValidTypes}");
            RuleFor(command => command.Namespace).Must(FluxGateway.IsNamespace).WithMessage(FluxGateway.NamespaceMessage);
            RuleFor(command => command.Name).Must(FluxGateway.IsName).WithMessage(FluxGateway.NameMessage);
        }
    }

    internal sealed class Handler(FluxGateway gateway, AuditTrail audit) : IRequestHandler<Command, bool>
    {
        public async Task<bool> Handle(Command command, CancellationToken cancellationToken)
        {
            var type = FluxGateway.ResolveType(command.ResourceType);
            var session = await gateway.OpenAsync(command.Cluster, command.ClusterCookie, cancellationToken);
            session.Access.Demand(FluxAction.Admin, type.Kind, command.Namespace, session.Target);
            await FluxActions.DeleteAsync(session.Client, type, command.Namespace, command.Name, cancellationToken);
            audit.Record("flux.delete", type.Kind, $"{command.Namespace}/{command.Name}", command.Name, new { cluster = session.Cluster.Name });
            return true;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/flux/{resourceType}/{namespace}/{name}", async (
                    string resourceType, string @namespace, string name, string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(resourceType, @namespace, name, cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequirePermission(Permissions.FluxDelete)
                .WithName(nameof(DeleteFluxResource))
                .WithTags(GitOpsRoutes.Resources)
                .WithSummary("Delete a Flux resource")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
