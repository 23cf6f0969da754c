using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;

namespace Capstan.Infrastructure.Delivery;

/// <summary>A workflow row as the delivery slices read it (graph as JSON text).</summary>
public sealed class WorkflowRow
{
    public Guid Id { get; init; }

    public Guid OwnerId { get; init; }

    public string Name { get; init; } = string.Empty;

    public string Description { get; init; } = string.Empty;

    public string ClusterId { get; init; } = string.Empty;

    public string Status { get; init; } = "draft";

    public string[] Tags { get; init; } = [];

    public string Nodes { get; init; } = "[]";

    public string Edges { get; init; } = "[]";

    public long CurrentVersion { get; init; }

    public long RunCount { get; init; }

    public long SuccessCount { get; init; }

    public long FailureCount { get; init; }

    public DateTime? LastRunAt { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    public WorkflowGraph Graph() => WorkflowGraph.Parse(Nodes, Edges);
}

/// <summary>A workflow as KubeOrch's clients read it (snake_case, reference §2): every field of the model; the graph
/// left out where the upstream leaves it out (dashboard).</summary>
public sealed record WorkflowView
{
    [JsonPropertyName("id")]
    public Guid Id { get; init; }

    [JsonPropertyName("name")]
    public string Name { get; init; } = string.Empty;

    [JsonPropertyName("description")]
    public string Description { get; init; } = string.Empty;

    [JsonPropertyName("cluster_id")]
    public string ClusterId { get; init; } = string.Empty;

    [JsonPropertyName("status")]
    public string Status { get; init; } = string.Empty;

    [JsonPropertyName("tags")]
    public IReadOnlyList<string> Tags { get; init; } = [];

    [JsonPropertyName("nodes")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonNode? Nodes { get; init; }

    [JsonPropertyName("edges")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public JsonNode? Edges { get; init; }

    [JsonPropertyName("current_version")]
    public long CurrentVersion { get; init; }

    [JsonPropertyName("owner_id")]
    public Guid OwnerId { get; init; }

    [JsonPropertyName("team_id")]
    public Guid? TeamId { get; init; }

    [JsonPropertyName("run_count")]
    public long RunCount { get; init; }

    [JsonPropertyName("success_count")]
    public long SuccessCount { get; init; }

    [JsonPropertyName("failure_count")]
    public long FailureCount { get; init; }

    [JsonPropertyName("last_run_at")]
    public DateTime? LastRunAt { get; init; }

    [JsonPropertyName("created_at")]
    public DateTime CreatedAt { get; init; }

    [JsonPropertyName("updated_at")]
    public DateTime UpdatedAt { get; init; }
}

/// <summary>Reads a caller's own workflows. Soft-deleted workflows and other users' workflows are not found (404).</summary>
public static class WorkflowStore
{
    private static readonly System.Text.Json.JsonSerializerOptions Json = new(System.Text.Json.JsonSerializerDefaults.Web);

    public const string Columns = """
        w.id, w.owner_id, w.name, w.description, w.cluster_id, w.status, w.tags, w.nodes::text AS nodes, w.edges::text AS edges,
        w.current_version, w.run_count, w.success_count, w.failure_count, w.last_run_at, w.created_at, w.updated_at
        """;

    /// <summary>The caller's workflow, locked for update inside a command's transaction when asked.</summary>
    public static async Task<WorkflowRow> GetOwnedAsync(DbSession db, Guid id, Guid ownerId, CancellationToken cancellationToken, bool forUpdate = false) =>
        await db.QuerySingleOrDefaultAsync<WorkflowRow>(
            $"SELECT {Columns} FROM delivery.workflows w WHERE w.id = @Id AND w.owner_id = @OwnerId AND w.deleted_at IS NULL{(forUpdate ? " FOR UPDATE" : string.Empty)}",
            new { Id = id, OwnerId = ownerId },
            cancellationToken)
        ?? throw new NotFoundException("Workflow not found");

    public static WorkflowView View(WorkflowRow row, bool withGraph = true) => new()
    {
        Id = row.Id,
        Name = row.Name,
        Description = row.Description,
        ClusterId = row.ClusterId,
        Status = row.Status,
        Tags = row.Tags,
        Nodes = withGraph ? JsonNode.Parse(row.Nodes) : null,
        Edges = withGraph ? JsonNode.Parse(row.Edges) : null,
        CurrentVersion = row.CurrentVersion,
        OwnerId = row.OwnerId,
        RunCount = row.RunCount,
        SuccessCount = row.SuccessCount,
        FailureCount = row.FailureCount,
        LastRunAt = row.LastRunAt,
        CreatedAt = row.CreatedAt,
        UpdatedAt = row.UpdatedAt,
    };

    /// <summary>The workflow as a JSON object (to add fields beside it, as the create and clone responses do).</summary>
    public static JsonObject ToJson(WorkflowView view) => (JsonObject)System.Text.Json.JsonSerializer.SerializeToNode(view, Json)!;

    /// <summary>Reference §14's create/clone superset: the flat workflow, <c>message</c>, and the nested <c>workflow</c>.</summary>
    public static JsonObject Created(WorkflowView view, string message)
    {
        var body = ToJson(view);
        body["message"] = message;
        body["workflow"] = ToJson(view);
        return body;
    }

    /// <summary>Trims what the upstream's save trims: every node's <c>data.name</c> and <c>data.namespace</c>, and
    /// the image of deployments and statefulsets.</summary>
    public static JsonArray Tidy(JsonArray nodes)
    {
        var copy = (JsonArray)nodes.DeepClone();
        foreach (var node in copy.OfType<JsonObject>())
        {
            if (node["data"] is not JsonObject data)
            {
                continue;
            }

            var type = NodeData.Text(node["type"])?.ToLowerInvariant();
            foreach (var key in type is "deployment" or "statefulset" ? new[] { "name", "namespace", "image" } : ["name", "namespace"])
            {
                if (data[key] is JsonValue value && value.GetValueKind() == System.Text.Json.JsonValueKind.String)
                {
                    data[key] = value.GetValue<string>().Trim();
                }
            }
        }

        return copy;
    }
}
