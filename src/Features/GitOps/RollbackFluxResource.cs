using System.Text.Json.Nodes;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
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
/// <c>POST .../{namespace}/{name}/rollback</c> (seed 000): <c>{historyId?, revision?, dryRun?}</c> puts the spec recorded
/// in a history entry back (<c>historyId</c> wins; <c>revision</c> takes the newest entry of that revision) with a
/// merge patch of the snapshot's spec (fields added since are set to null, so they go), a reconcile request and the
/// <c>gyre.io/rolledBackFrom</c>/<c>rolledBackAt</c> annotations. <c>dryRun</c> returns the patch without sending it.
/// 404 when there is no such entry, 400 when it has no snapshot. Needs write.
/// </summary>
public static class RollbackFluxResource
{
    public sealed record Command(string ResourceType, string Namespace, string Name, string? Revision, string? HistoryId, bool? DryRun, string? Cluster, string? ClusterCookie)
        : ICommand<Response>;

    public sealed record HistoryEntryRef(Guid Id, string? Revision);

    public sealed record Response(bool Success, bool DryRun, string Message, HistoryEntryRef HistoryEntry, JsonObject? Patch);

    public sealed record Body(string? Revision, string? HistoryId, bool? DryRun, string? Cluster);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.ResourceType).Must(type => FluxResourceTypes.Resolve(type) is not null).WithMessage(command => $"Invalid resource type: {command.ResourceType}. Valid types: {FluxResourceTypes.ValidTypes}");
            RuleFor(command => command.Namespace).Must(FluxGateway.IsNamespace).WithMessage(FluxGateway.NamespaceMessage);
            RuleFor(command => command.Name).Must(FluxGateway.IsName).WithMessage(FluxGateway.NameMessage);
            RuleFor(command => command.Revision).MaximumLength(500);
            RuleFor(command => command.HistoryId).MaximumLength(500)
                .Must(id => Guid.TryParse(id, out _)).When(command => !string.IsNullOrEmpty(command.HistoryId)).WithMessage("historyId must be the id of a history entry");
            RuleFor(command => command.Revision ?? command.HistoryId).NotEmpty().WithMessage("revision or historyId is required").OverridePropertyName("revision");
        }
    }

    internal sealed class Handler(FluxGateway gateway, DbSession db, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Find = """
            SELECT id, revision, spec_snapshot::text AS spec_snapshot
            FROM gitops.reconciliation_history
            WHERE cluster_id = @ClusterId AND resource_type = @Kind AND namespace = @Namespace AND name = @Name
              AND (CASE WHEN @HistoryId::uuid IS NOT NULL THEN id = @HistoryId ELSE revision = @Revision END)
            ORDER BY (spec_snapshot IS NOT NULL) DESC, reconcile_completed_at DESC, id DESC
            LIMIT 1
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var type = FluxGateway.ResolveType(command.ResourceType);
            var session = await gateway.OpenAsync(command.Cluster, command.ClusterCookie, cancellationToken);
            session.Access.Demand(FluxAction.Write, type.Kind, command.Namespace, session.Target);
            var historyId = string.IsNullOrEmpty(command.HistoryId) ? (Guid?)null : Guid.Parse(command.HistoryId);
            var entry = await db.QuerySingleOrDefaultAsync<Entry>(
                Find,
                new { ClusterId = session.Cluster.Id, type.Kind, command.Namespace, command.Name, HistoryId = historyId, command.Revision },
                cancellationToken) ?? throw new NotFoundException(historyId is null
                    ? $"No history entry of revision '{command.Revision}' for {type.Kind} {command.Namespace}/{command.Name}"
                    : $"History entry {historyId} not found for {type.Kind} {command.Namespace}/{command.Name}");
            if (entry.SpecSnapshot is null || JsonNode.Parse(entry.SpecSnapshot) is not JsonObject snapshot)
            {
                throw BadRequestException.ForField(historyId is null ? "revision" : "historyId", "That history entry has no spec snapshot to roll back to");
            }

            var live = await session.Client.GetAsync(type.Resource, command.Namespace, command.Name, cancellationToken);
            var now = clock.GetUtcNow();
            var patch = FluxActions.RollbackPatch(snapshot, live["spec"] as JsonObject, FluxStatus.Revision(live) ?? "unknown", now);
            var target = new HistoryEntryRef(entry.Id, entry.Revision);
            if (command.DryRun == true)
            {
                return new Response(true, true, $"Dry run: rollback to {entry.Revision ?? entry.Id.ToString()} would send this patch", target, patch);
            }

            var patched = await session.Client.PatchAsync(type.Resource, command.Namespace, command.Name, KubernetesPatch.Merge(patch), cancellationToken);
            await FluxHistory.RecordAsync(
                db,
                new FluxHistoryEntry
                {
                    ClusterId = session.Cluster.Id,
                    Kind = type.Kind,
                    Namespace = command.Namespace,
                    Name = command.Name,
                    Revision = entry.Revision,
                    PreviousRevision = FluxStatus.Revision(live),
                    Status = "unknown",
                    StartedAt = now,
                    CompletedAt = now,
                    SpecSnapshot = patched["spec"]?.DeepClone(),
                    MetadataSnapshot = FluxHistory.MetadataSnapshot(patched),
                    TriggerType = "rollback",
                    TriggeredBy = session.Caller.UserId,
                },
                cancellationToken);
            audit.Record("flux.rollback", type.Kind, $"{command.Namespace}/{command.Name}", command.Name, new { cluster = session.Cluster.Name, history_id = entry.Id, entry.Revision });
            return new Response(true, false, $"Successfully initiated rollback to {entry.Revision ?? entry.Id.ToString()}", target, null);
        }

        private sealed record Entry(Guid Id, string? Revision, string? SpecSnapshot);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/flux/{resourceType}/{namespace}/{name}/rollback", async (
                    string resourceType, string @namespace, string name, Body? body, string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(
                        new Command(resourceType, @namespace, name, body?.Revision, body?.HistoryId, body?.DryRun, cluster ?? body?.Cluster, request.Cookies[ClusterDirectory.CookieName]),
                        cancellationToken)))
                .RequirePermission(Permissions.FluxWrite)
                .WithName(nameof(RollbackFluxResource))
                .WithTags(GitOpsRoutes.Actions)
                .WithSummary("Roll back to a recorded spec")
                .ProducesErrors(400, 401, 403, 404, 503);
    }
}
