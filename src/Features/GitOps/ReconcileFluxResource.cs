using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
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

/// <summary><c>POST .../{namespace}/{name}/reconcile</c> (seeds 000, 001): asks Flux to reconcile now with the merge
/// patch <c>{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"&lt;now&gt;"}}}</c>
/// (<c>application/merge-patch+json</c>) and records a manual history entry. Needs write.
/// <c>{success, message: "Reconciliation triggered for &lt;name&gt;", requestedAt}</c>.</summary>
public static class ReconcileFluxResource
{
    public sealed record Command(string ResourceType, string Namespace, string Name, string? Cluster, string? ClusterCookie) : ICommand<Response>;

    public sealed record Response(bool Success, string Message, string RequestedAt);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.ResourceType).Must(type => FluxResourceTypes.Resolve(type) is not null).WithMessage(command => $"Invalid resource type: {command.ResourceType}. Valid types: {FluxResourceTypes.ValidTypes}");
            RuleFor(command => command.Namespace).Must(FluxGateway.IsNamespace).WithMessage(FluxGateway.NamespaceMessage);
            RuleFor(command => command.Name).Must(FluxGateway.IsName).WithMessage(FluxGateway.NameMessage);
        }
    }

    internal sealed class Handler(FluxGateway gateway, DbSession db, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var type = FluxGateway.ResolveType(command.ResourceType);
            var session = await gateway.OpenAsync(command.Cluster, command.ClusterCookie, cancellationToken);
            session.Access.Demand(FluxAction.Write, type.Kind, command.Namespace, session.Target);
            var now = clock.GetUtcNow();
            var patched = await FluxActions.ReconcileAsync(session.Client, type, command.Namespace, command.Name, now, cancellationToken);
            await FluxHistory.RecordAsync(
                db,
                new FluxHistoryEntry
                {
                    ClusterId = session.Cluster.Id,
                    Kind = type.Kind,
                    Namespace = command.Namespace,
                    Name = command.Name,
                    Revision = FluxStatus.Revision(patched),
                    Status = "unknown",
                    Ready = FluxStatus.Ready(patched),
                    StartedAt = now,
                    CompletedAt = now,
                    SpecSnapshot = patched["spec"]?.DeepClone(),
                    MetadataSnapshot = FluxHistory.MetadataSnapshot(patched),
                    TriggerType = "manual",
                    TriggeredBy = session.Caller.UserId,
                },
                cancellationToken);
            audit.Record("flux.reconcile", type.Kind, $"{command.Namespace}/{command.Name}", command.Name, new { cluster = session.Cluster.Name });
            return new Response(true, $"Reconciliation triggered for {command.Name}", FluxActions.Timestamp(now));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/flux/{resourceType}/{namespace}/{name}/reconcile", async (
                    string resourceType, string @namespace, string name, string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(resourceType, @namespace, name, cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken)))
                .RequirePermission(Permissions.FluxWrite)
                .WithName(nameof(ReconcileFluxResource))
                .WithTags(GitOpsRoutes.Actions)
                .WithSummary("Trigger a reconciliation")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
