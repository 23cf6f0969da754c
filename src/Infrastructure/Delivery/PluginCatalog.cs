using System.Text.Json.Nodes;
using Capstan.Infrastructure.Data;

namespace Capstan.Infrastructure.Delivery;

/// <summary>The node types of the plugins a user has enabled (plugins are data, <c>delivery.plugins</c>).</summary>
public static class PluginCatalog
{
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
