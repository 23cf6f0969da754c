using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Delivery.Versions;

/// <summary><c>GET /v1/api/workflows/{id}/versions/compare?v1=&amp;v2=</c> (seed 002): what changed from v1 to v2.
/// Nodes are matched by id: added, removed, or modified when their type, position or data differ (old and new data
/// shown); edges are matched by id. Every list is present, empty when nothing changed.</summary>
public static class CompareVersions
{
    public sealed record Query(Guid Id, long? From, long? To) : IQuery<Response>;

    public sealed record NodeChange(
        [property: JsonPropertyName("node_id")] string NodeId,
        [property: JsonPropertyName("type")] string Type,
        [property: JsonPropertyName("old_data")][property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonNode? OldData,
        [property: JsonPropertyName("new_data")][property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonNode? NewData);

    public sealed record EdgeChange(
        [property: JsonPropertyName("edge_id")] string EdgeId,
        [property: JsonPropertyName("source")] string Source,
        [property: JsonPropertyName("target")] string Target);

    public sealed record Response(
        [property: JsonPropertyName("from_version")] long FromVersion,
        [property: JsonPropertyName("to_version")] long ToVersion,
        [property: JsonPropertyName("added_nodes")] IReadOnlyList<NodeChange> AddedNodes,
        [property: JsonPropertyName("removed_nodes")] IReadOnlyList<NodeChange> RemovedNodes,
        [property: JsonPropertyName("modified_nodes")] IReadOnlyList<NodeChange> ModifiedNodes,
        [property: JsonPropertyName("added_edges")] IReadOnlyList<EdgeChange> AddedEdges,
        [property: JsonPropertyName("removed_edges")] IReadOnlyList<EdgeChange> RemovedEdges);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Id).NotEmpty();
            RuleFor(query => query.From).NotNull().GreaterThan(0).WithMessage("Invalid or missing version number v1").OverridePropertyName("v1");
            RuleFor(query => query.To).NotNull().GreaterThan(0).WithMessage("Invalid or missing version number v2").OverridePropertyName("v2");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            await WorkflowStore.GetOwnedAsync(db, query.Id, request.RequiredCaller.UserId, cancellationToken);
            var versions = await db.QueryAsync<VersionRow>(
                $"SELECT {WorkflowVersions.Columns} FROM delivery.workflow_versions v WHERE v.workflow_id = @Id AND v.version IN (@From, @To)",
                new { query.Id, query.From, query.To },
                cancellationToken);
            var from = versions.FirstOrDefault(version => version.Version == query.From);
            var to = versions.FirstOrDefault(version => version.Version == query.To);
            if (from is null || to is null)
            {
                throw new NotFoundException("One or both versions not found");
            }

            var oldNodes = Nodes(from.Nodes);
            var newNodes = Nodes(to.Nodes);
            var oldEdges = Edges(from.Edges);
            var newEdges = Edges(to.Edges);
            return new Response(
                from.Version,
                to.Version,
                [.. newNodes.Where(pair => !oldNodes.ContainsKey(pair.Key)).Select(pair => new NodeChange(pair.Key, Type(pair.Value), null, pair.Value["data"]?.DeepClone() ?? new JsonObject()))],
                [.. oldNodes.Where(pair => !newNodes.ContainsKey(pair.Key)).Select(pair => new NodeChange(pair.Key, Type(pair.Value), pair.Value["data"]?.DeepClone() ?? new JsonObject(), null))],
                [.. newNodes.Where(pair => oldNodes.TryGetValue(pair.Key, out var old) && Changed(old, pair.Value))
                    .Select(pair => new NodeChange(pair.Key, Type(pair.Value), oldNodes[pair.Key]["data"]?.DeepClone() ?? new JsonObject(), pair.Value["data"]?.DeepClone() ?? new JsonObject()))],
                [.. newEdges.Where(pair => !oldEdges.ContainsKey(pair.Key)).Select(pair => pair.Value)],
                [.. oldEdges.Where(pair => !newEdges.ContainsKey(pair.Key)).Select(pair => pair.Value)]);
        }

        private static bool Changed(JsonObject old, JsonObject current) =>
            Type(old) != Type(current)
            || NodeData.Number(old["position"]?["x"]) != NodeData.Number(current["position"]?["x"])
            || NodeData.Number(old["position"]?["y"]) != NodeData.Number(current["position"]?["y"])
            || old["position"]?["x"]?.ToJsonString() != current["position"]?["x"]?.ToJsonString()
            || old["position"]?["y"]?.ToJsonString() != current["position"]?["y"]?.ToJsonString()
            || !JsonNode.DeepEquals(old["data"] ?? new JsonObject(), current["data"] ?? new JsonObject());

        private static string Type(JsonObject node) => NodeData.Text(node["type"]) ?? string.Empty;

        private static Dictionary<string, JsonObject> Nodes(string json)
        {
            var nodes = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
            foreach (var node in (JsonNode.Parse(json) as JsonArray ?? []).OfType<JsonObject>())
            {
                if (NodeData.Text(node["id"]) is { } id)
                {
                    nodes.TryAdd(id, node);
                }
            }

            return nodes;
        }

        private static Dictionary<string, EdgeChange> Edges(string json)
        {
            var edges = new Dictionary<string, EdgeChange>(StringComparer.Ordinal);
            foreach (var edge in (JsonNode.Parse(json) as JsonArray ?? []).OfType<JsonObject>())
            {
                var source = NodeData.Text(edge["source"]) ?? string.Empty;
                var target = NodeData.Text(edge["target"]) ?? string.Empty;
                var id = NodeData.Text(edge["id"]) ?? $"{source}-{target}";
                edges.TryAdd(id, new EdgeChange(id, source, target));
            }

            return edges;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/workflows/{id}/versions/compare", async (Guid id, string? v1, string? v2, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id, Parse(v1), Parse(v2)), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(CompareVersions))
                .WithTags(DeliveryRoutes.Versions)
                .WithSummary("Compare two versions")
                .ProducesErrors(400, 401, 403, 404);

        // A non-number is treated like a missing one: the validator names the parameter.
        private static long? Parse(string? value) => long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) ? number : null;
    }
}
