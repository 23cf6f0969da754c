using System.Text.Json.Nodes;
using Capstan.Infrastructure.Data;

namespace Capstan.Infrastructure.Delivery;

/// <summary>A plugin as KubeOrch's clients read it (camelCase), with the caller's enablement.</summary>
public sealed record PluginView
{
    public string Id { get; init; } = string.Empty;

    public string Name { get; init; } = string.Empty;

    public string DisplayName { get; init; } = string.Empty;

    public string Description { get; init; } = string.Empty;

    public string Category { get; init; } = string.Empty;

    public string Version { get; init; } = string.Empty;

    public string CrdGroup { get; init; } = string.Empty;

    public IReadOnlyList<string> CrdKinds { get; init; } = [];

    public JsonNode? NodeTypes { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    public bool Enabled { get; init; }

    public DateTime? EnabledAt { get; init; }
}

/// <summary>The plugin catalog (plugins are data, <c>delivery.plugins</c>) and the node types a user has enabled.</summary>
public static class PluginCatalog
{
    public const string Columns = """
        p.id, p.name, p.display_name, p.description, p.category, p.version, p.crd_group, p.crd_kinds, p.node_types::text AS node_types,
        p.created_at, p.updated_at, (u.status = 'enabled') IS TRUE AS enabled, CASE WHEN u.status = 'enabled' THEN u.enabled_at END AS enabled_at
        """;

    /// <summary>The catalog joined with one user's enablement (<c>@UserId</c>).</summary>
    public const string From = "delivery.plugins p LEFT JOIN delivery.user_plugins u ON u.plugin_id = p.id AND u.user_id = @UserId";

    public sealed class ViewRow
    {
        public string Id { get; init; } = string.Empty;

        public string Name { get; init; } = string.Empty;

        public string DisplayName { get; init; } = string.Empty;

        public string Description { get; init; } = string.Empty;

        public string Category { get; init; } = string.Empty;

        public string Version { get; init; } = string.Empty;

        public string CrdGroup { get; init; } = string.Empty;

        public string[] CrdKinds { get; init; } = [];

        public string NodeTypes { get; init; } = "[]";

        public DateTime CreatedAt { get; init; }

        public DateTime UpdatedAt { get; init; }

        public bool Enabled { get; init; }

        public DateTime? EnabledAt { get; init; }
    }

    public static PluginView View(ViewRow row) => new()
    {
        Id = row.Id,
        Name = row.Name,
        DisplayName = row.DisplayName,
        Description = row.Description,
        Category = row.Category,
        Version = row.Version,
        CrdGroup = row.CrdGroup,
        CrdKinds = row.CrdKinds,
        NodeTypes = JsonNode.Parse(row.NodeTypes),
        CreatedAt = row.CreatedAt,
        UpdatedAt = row.UpdatedAt,
        Enabled = row.Enabled,
        EnabledAt = row.EnabledAt,
    };

    public sealed class PluginRow
    {
        public string Id { get; init; } = string.Empty;

        public string CrdGroup { get; init; } = string.Empty;

        public string NodeTypes { get; init; } = "[]";
    }

    public static async Task<IReadOnlyList<PluginNodeType>> EnabledNodeTypesAsync(DbSession db, Guid userId, CancellationToken cancellationToken)
    {
        var rows = await db.QueryAsync<PluginRow>(
            """
            SELECT p.id, p.crd_group, p.node_types::text AS node_types
            FROM delivery.plugins p JOIN delivery.user_plugins u ON u.plugin_id = p.id
            WHERE u.user_id = @UserId AND u.status = 'enabled'
            ORDER BY p.id
            """,
            new { UserId = userId },
            cancellationToken);
        return [.. rows.SelectMany(NodeTypes)];
    }

    /// <summary>A plugin's node types; the kind is the node type's own, else the CRD kind matching its name, else its
    /// display name without spaces; the apiVersion its own, else <c>&lt;crdGroup&gt;/v1</c>.</summary>
    public static IEnumerable<PluginNodeType> NodeTypes(PluginRow row)
    {
        foreach (var type in (JsonNode.Parse(row.NodeTypes) as JsonArray ?? []).OfType<JsonObject>())
        {
            var data = new NodeData(type);
            if (data.Str("name") is not { } name)
            {
                continue;
            }

            var displayName = data.StrOr("displayName", name);
            var fields = (data.Arr("fields") ?? []).OfType<JsonObject>()
                .Select(field => new NodeData(field))
                .Where(field => field.Str("id") is not null)
                .Select(field => new PluginField(field.Str("id")!, field.Bool("required") == true, field["default"]?.DeepClone()))
                .ToList();
            yield return new PluginNodeType(
                row.Id,
                name,
                displayName,
                data.Str("apiVersion") ?? $"{row.CrdGroup}/v1",
                data.Str("kind") ?? displayName.Replace(" ", string.Empty, StringComparison.Ordinal),
                fields);
        }
    }
}
