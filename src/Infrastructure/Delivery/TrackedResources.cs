using System.Text.Json.Nodes;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;

namespace Capstan.Infrastructure.Delivery;

/// <summary>A tracked Kubernetes object of a user (row of <c>delivery.resources</c>).</summary>
public sealed class ResourceRow
{
    public Guid Id { get; init; }

    public Guid UserId { get; init; }

    public Guid? ClusterId { get; init; }

    public string ClusterName { get; init; } = string.Empty;

    public string Namespace { get; init; } = string.Empty;

    public string Name { get; init; } = string.Empty;

    public string Kind { get; init; } = string.Empty;

    public string ApiVersion { get; init; } = string.Empty;

    public string? Uid { get; init; }

    public string? ResourceVersion { get; init; }

    public string Status { get; init; } = string.Empty;

    public string Labels { get; init; } = "{}";

    public string Annotations { get; init; } = "{}";

    public string OwnerReferences { get; init; } = "[]";

    public string Spec { get; init; } = "{}";

    public string State { get; init; } = "{}";

    public string Metadata { get; init; } = "{}";

    public Guid? WorkflowId { get; init; }

    public string? WorkflowName { get; init; }

    public string[] UserTags { get; init; } = [];

    public string UserNotes { get; init; } = string.Empty;

    public bool IsFavorite { get; init; }

    public DateTime? CreatedAt { get; init; }

    public DateTime FirstDiscoveredAt { get; init; }

    public DateTime LastSyncedAt { get; init; }

    public DateTime LastSeenAt { get; init; }

    public DateTime? DeletedAt { get; init; }
}

/// <summary>A tracked resource as KubeOrch's clients read it (camelCase, reference §2 <c>resources</c>).</summary>
public sealed record ResourceView
{
    public Guid Id { get; init; }

    public Guid? ClusterId { get; init; }

    public string ClusterName { get; init; } = string.Empty;

    public string Name { get; init; } = string.Empty;

    public string Namespace { get; init; } = string.Empty;

    public string Type { get; init; } = string.Empty;

    public string ApiVersion { get; init; } = string.Empty;

    public string? Uid { get; init; }

    public string? ResourceVersion { get; init; }

    public string Status { get; init; } = string.Empty;

    public JsonNode? Labels { get; init; }

    public JsonNode? Annotations { get; init; }

    public JsonNode? OwnerReferences { get; init; }

    public JsonNode? Spec { get; init; }

    public JsonNode? StatusDetails { get; init; }

    public JsonNode? Metadata { get; init; }

    public Guid? WorkflowId { get; init; }

    public string? WorkflowName { get; init; }

    public IReadOnlyList<string> UserTags { get; init; } = [];

    public string UserNotes { get; init; } = string.Empty;

    public bool IsFavorite { get; init; }

    public DateTime? CreatedAt { get; init; }

    public DateTime FirstDiscoveredAt { get; init; }

    public DateTime LastSyncedAt { get; init; }

    public DateTime LastSeenAt { get; init; }

    public DateTime? DeletedAt { get; init; }
}

/// <summary>Reads a user's tracked resources; another user's resource is not found.</summary>
public static class TrackedResources
{
    public const string Columns = """
        r.id, r.user_id, r.cluster_id, r.cluster_name, r.namespace, r.name, r.kind, r.api_version, r.uid, r.resource_version, r.status,
        r.labels::text AS labels, r.annotations::text AS annotations, r.owner_references::text AS owner_references, r.spec::text AS spec,
        r.state::text AS state, r.metadata::text AS metadata, r.workflow_id, r.workflow_name, r.user_tags, r.user_notes, r.is_favorite,
        r.created_at, r.first_discovered_at, r.last_synced_at, r.last_seen_at, r.deleted_at
        """;

    public static async Task<ResourceRow> GetOwnedAsync(DbSession db, Guid id, Guid userId, CancellationToken cancellationToken) =>
        await db.QuerySingleOrDefaultAsync<ResourceRow>(
            $"SELECT {Columns} FROM delivery.resources r WHERE r.id = @Id AND r.user_id = @UserId",
            new { Id = id, UserId = userId },
            cancellationToken)
        ?? throw new NotFoundException("Resource not found");

    public static ResourceView View(ResourceRow row) => new()
    {
        Id = row.Id,
        ClusterId = row.ClusterId,
        ClusterName = row.ClusterName,
        Name = row.Name,
        Namespace = row.Namespace,
        Type = row.Kind,
        ApiVersion = row.ApiVersion,
        Uid = row.Uid,
        ResourceVersion = row.ResourceVersion,
        Status = row.Status,
        Labels = JsonNode.Parse(row.Labels),
        Annotations = JsonNode.Parse(row.Annotations),
        OwnerReferences = JsonNode.Parse(row.OwnerReferences),
        Spec = JsonNode.Parse(row.Spec),
        StatusDetails = JsonNode.Parse(row.State),
        Metadata = JsonNode.Parse(row.Metadata),
        WorkflowId = row.WorkflowId,
        WorkflowName = row.WorkflowName,
        UserTags = row.UserTags,
        UserNotes = row.UserNotes,
        IsFavorite = row.IsFavorite,
        CreatedAt = row.CreatedAt,
        FirstDiscoveredAt = row.FirstDiscoveredAt,
        LastSyncedAt = row.LastSyncedAt,
        LastSeenAt = row.LastSeenAt,
        DeletedAt = row.DeletedAt,
    };
}
