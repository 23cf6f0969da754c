using System.Globalization;
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

/// <summary><c>GET .../{namespace}/{name}/history</c> (seed 000): the object's reconciliation history on the selected
/// cluster, newest first (<c>limit</c> 1-1000, default 100; <c>status</c> success|failure|unknown; <c>since</c> ISO
/// time), recorded by the background watcher and by manual actions. Snapshots are JSON strings, as Gyre sends them.
/// Needs read; 404 when nothing is recorded and the object does not exist. <c>{timeline, total}</c>.</summary>
public static class GetFluxResourceHistory
{
    public sealed record Query(string ResourceType, string Namespace, string Name, int Limit, string? Status, string? Since, string? Cluster, string? ClusterCookie) : IQuery<Response>;

    public sealed record Entry(
        Guid Id,
        string ResourceType,
        string Namespace,
        string Name,
        Guid ClusterId,
        string? Revision,
        string? PreviousRevision,
        string Status,
        string? ReadyStatus,
        string? ReadyReason,
        string? ReadyMessage,
        DateTime? ReconcileStartedAt,
        DateTime ReconcileCompletedAt,
        long? DurationMs,
        string? SpecSnapshot,
        string? MetadataSnapshot,
        string TriggerType,
        Guid? TriggeredByUser,
        string? ErrorMessage,
        string? StalledReason,
        DateTime CreatedAt);

    public sealed record Response(IReadOnlyList<Entry> Timeline, int Total);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.ResourceType).Must(type => FluxResourceTypes.Resolve(type) is not null).WithMessage(query => $"Invalid resource type: {query.ResourceType}. Valid types: {FluxResourceTypes.ValidTypes}");
            RuleFor(query => query.Namespace).Must(FluxGateway.IsNamespace).WithMessage(FluxGateway.NamespaceMessage);
            RuleFor(query => query.Name).Must(FluxGateway.IsName).WithMessage(FluxGateway.NameMessage);
            RuleFor(query => query.Limit).InclusiveBetween(1, 1000);
            RuleFor(query => query.Status).Must(status => status is "success" or "failure" or "unknown").When(query => query.Status is not null)
                .WithMessage("status must be success, failure or unknown");
            RuleFor(query => query.Since).Must(since => DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out _))
                .When(query => query.Since is not null).WithMessage("since must be an ISO-8601 time");
        }
    }

    internal sealed class Handler(FluxGateway gateway, DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Load = """
            SELECT id, resource_type, namespace, name, cluster_id, revision, previous_revision, status, ready_status, ready_reason, ready_message,
                   reconcile_started_at, reconcile_completed_at, duration_ms, spec_snapshot::text AS spec_snapshot, metadata_snapshot::text AS metadata_snapshot,
                   trigger_type, triggered_by_user, error_message, stalled_reason, created_at
            FROM gitops.reconciliation_history
            WHERE cluster_id = @ClusterId AND resource_type = @Kind AND namespace = @Namespace AND name = @Name
              AND (@Status::text IS NULL OR status = @Status)
              AND (@Since::timestamptz IS NULL OR reconcile_completed_at >= @Since)
            ORDER BY reconcile_completed_at DESC, id DESC
            LIMIT @Limit
            """;

        private const string Recorded = """
            SELECT EXISTS (SELECT 1 FROM gitops.reconciliation_history
                           WHERE cluster_id = @ClusterId AND resource_type = @Kind AND namespace = @Namespace AND name = @Name)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var type = FluxGateway.ResolveType(query.ResourceType);
            var session = await gateway.OpenAsync(query.Cluster, query.ClusterCookie, cancellationToken);
            session.Access.Demand(FluxAction.Read, type.Kind, query.Namespace, session.Target);
            var since = query.Since is null ? (DateTime?)null : DateTimeOffset.Parse(query.Since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal).UtcDateTime;
            var timeline = await db.QueryAsync<Entry>(
                Load,
                new { ClusterId = session.Cluster.Id, type.Kind, query.Namespace, query.Name, query.Status, Since = since, query.Limit },
                cancellationToken);

            // Nothing recorded: 404 unless the object exists (the history of a deleted object stays readable).
            if (timeline.Count == 0 && !await db.ExecuteScalarAsync<bool>(Recorded, new { ClusterId = session.Cluster.Id, type.Kind, query.Namespace, query.Name }, cancellationToken))
            {
                await session.Client.GetAsync(type.Resource, query.Namespace, query.Name, cancellationToken);
            }

            return new Response(timeline, timeline.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/flux/{resourceType}/{namespace}/{name}/history", async (
                    string resourceType, string @namespace, string name, int? limit, string? status, string? since, string? cluster, HttpRequest request, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(resourceType, @namespace, name, limit ?? 100, status, since, cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken)))
                .RequirePermission(Permissions.FluxRead)
                .WithName(nameof(GetFluxResourceHistory))
                .WithTags(GitOpsRoutes.Diagnostics)
                .WithSummary("Reconciliation history of a Flux resource")
                .ProducesErrors(400, 401, 403, 404);
    }
}
