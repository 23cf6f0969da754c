using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;

namespace Capstan.Infrastructure.Delivery;

public sealed class VersionRow
{
    public Guid Id { get; init; }

    public Guid WorkflowId { get; init; }

    public long Version { get; init; }

    public string Nodes { get; init; } = "[]";

    public string Edges { get; init; } = "[]";

    public string? Name { get; init; }

    public string? Tag { get; init; }

    public string Description { get; init; } = string.Empty;

    public DateTime CreatedAt { get; init; }

    public Guid? CreatedBy { get; init; }

    public long? RestoredFrom { get; init; }

    public bool IsAutomatic { get; init; }

    public Guid? RunId { get; init; }

    public string? RunStatus { get; init; }
}

/// <summary>A workflow version as KubeOrch's clients read it (snake_case, reference §8c).</summary>
public sealed record VersionView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("workflow_id")] Guid WorkflowId,
    [property: JsonPropertyName("version")] long Version,
    [property: JsonPropertyName("nodes")] JsonNode? Nodes,
    [property: JsonPropertyName("edges")] JsonNode? Edges,
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("tag")] string? Tag,
    [property: JsonPropertyName("description")] string Description,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt,
    [property: JsonPropertyName("created_by")] Guid? CreatedBy,
    [property: JsonPropertyName("restored_from")] long? RestoredFrom,
    [property: JsonPropertyName("is_automatic")] bool IsAutomatic,
    [property: JsonPropertyName("run_id")] Guid? RunId,
    [property: JsonPropertyName("run_status")] string? RunStatus);

/// <summary>Reads versions of a workflow (the caller's ownership is checked on the workflow first).</summary>
public static class WorkflowVersions
{
    public const string Columns = """
        v.id, v.workflow_id, v.version, v.nodes::text AS nodes, v.edges::text AS edges, v.name, v.tag, v.description, v.created_at,
        v.created_by, v.restored_from, v.is_automatic, v.run_id, v.run_status
        """;

    public static async Task<VersionRow> GetAsync(DbSession db, Guid workflowId, long version, CancellationToken cancellationToken) =>
        await db.QuerySingleOrDefaultAsync<VersionRow>(
            $"SELECT {Columns} FROM delivery.workflow_versions v WHERE v.workflow_id = @WorkflowId AND v.version = @Version",
            new { WorkflowId = workflowId, Version = version },
            cancellationToken)
        ?? throw new NotFoundException("Version not found");

    /// <summary>The next version number of a workflow (its versions' highest, or its current version, plus one).</summary>
    public static Task<long> NextAsync(DbSession db, Guid workflowId, CancellationToken cancellationToken) =>
        db.ExecuteScalarAsync<long>(
            "SELECT GREATEST(COALESCE(MAX(version), 0), (SELECT current_version FROM delivery.workflows WHERE id = @Id)) + 1 FROM delivery.workflow_versions WHERE workflow_id = @Id",
            new { Id = workflowId },
            cancellationToken);

    public static VersionView View(VersionRow row, bool withGraph = true) => new(
        row.Id,
        row.WorkflowId,
        row.Version,
        withGraph ? JsonNode.Parse(row.Nodes) : null,
        withGraph ? JsonNode.Parse(row.Edges) : null,
        row.Name,
        row.Tag,
        row.Description,
        row.CreatedAt,
        row.CreatedBy,
        row.RestoredFrom,
        row.IsAutomatic,
        row.RunId,
        row.RunStatus);
}
