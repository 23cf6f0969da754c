using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Delivery.Runs;

/// <summary><c>GET /v1/api/workflows/{id}/runs?limit=</c> (seed 002): the workflow's runs, newest first (<c>limit</c>
/// 1–100, default 10): status, version, cluster, timing, per-node states, output and log. Trigger data holds who
/// triggered it and which nodes were given values, never the values.</summary>
public static class ListWorkflowRuns
{
    public sealed record Query(Guid Id, int Limit) : IQuery<Response>;

    public sealed record Response([property: JsonPropertyName("runs")] IReadOnlyList<RunView> Runs);

    public sealed class RunRow
    {
        public Guid Id { get; init; }

        public Guid WorkflowId { get; init; }

        public long Version { get; init; }

        public string Status { get; init; } = string.Empty;

        public string ClusterName { get; init; } = string.Empty;

        public DateTime StartedAt { get; init; }

        public DateTime? CompletedAt { get; init; }

        public long? DurationMs { get; init; }

        public string NodeStates { get; init; } = "{}";

        public string Output { get; init; } = "{}";

        public string Logs { get; init; } = "[]";

        public string? Error { get; init; }

        public string TriggeredBy { get; init; } = string.Empty;

        public string TriggerData { get; init; } = "{}";
    }

    public sealed record RunView(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("workflow_id")] Guid WorkflowId,
        [property: JsonPropertyName("version")] long Version,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("cluster")] string Cluster,
        [property: JsonPropertyName("started_at")] DateTime StartedAt,
        [property: JsonPropertyName("completed_at")] DateTime? CompletedAt,
        [property: JsonPropertyName("duration")] long? Duration,
        [property: JsonPropertyName("node_states")] JsonNode? NodeStates,
        [property: JsonPropertyName("output")] JsonNode? Output,
        [property: JsonPropertyName("logs")] JsonNode? Logs,
        [property: JsonPropertyName("error")] string? Error,
        [property: JsonPropertyName("triggered_by")] string TriggeredBy,
        [property: JsonPropertyName("trigger_data")] JsonNode? TriggerData);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Id).NotEmpty();
            RuleFor(query => query.Limit).InclusiveBetween(1, 100).OverridePropertyName("limit");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            await WorkflowStore.GetOwnedAsync(db, query.Id, request.RequiredCaller.UserId, cancellationToken);
            var rows = await db.QueryAsync<RunRow>(
                """
                SELECT id, workflow_id, version, status, cluster_name, started_at, completed_at, duration_ms, node_states::text AS node_states,
                       output::text AS output, logs::text AS logs, error, triggered_by, trigger_data::text AS trigger_data
                FROM delivery.workflow_runs WHERE workflow_id = @Id
                ORDER BY started_at DESC, id DESC
                LIMIT @Limit
                """,
                new { query.Id, query.Limit },
                cancellationToken);
            return new Response([.. rows.Select(row => new RunView(
                row.Id, row.WorkflowId, row.Version, row.Status, row.ClusterName, row.StartedAt, row.CompletedAt, row.DurationMs,
                JsonNode.Parse(row.NodeStates), JsonNode.Parse(row.Output), JsonNode.Parse(row.Logs), row.Error, row.TriggeredBy, JsonNode.Parse(row.TriggerData)))]);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/workflows/{id}/runs", async (Guid id, int? limit, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id, limit ?? 10), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(ListWorkflowRuns))
                .WithTags(DeliveryRoutes.Runs)
                .WithSummary("Get workflow execution history")
                .ProducesErrors(400, 401, 403, 404);
    }
}
