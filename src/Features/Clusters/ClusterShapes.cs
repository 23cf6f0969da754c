using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;

namespace Capstan.Features.Clusters;

/// <summary>OpenAPI tags of the clusters area.</summary>
internal static class ClusterRoutes
{
    public const string Registry = "Clusters";
    public const string Admin = "Admin";
}

/// <summary>Seed 002's <c>ClusterResponse</c> (KubeOrch's camelCase shape), the same from every seed-002 route. The
/// owner sees whom it is shared with; credentials never appear.</summary>
public sealed record ClusterResponse
{
    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string DisplayName { get; init; } = string.Empty;

    public string Description { get; init; } = string.Empty;

    public string Server { get; init; } = string.Empty;

    public string AuthType { get; init; } = string.Empty;

    public string Status { get; init; } = "unknown";

    [JsonPropertyName("default")]
    public bool Default { get; init; }

    public bool SingleNode { get; init; }

    public JsonObject Labels { get; init; } = [];

    public JsonObject Metadata { get; init; } = [];

    public DateTime? LastCheck { get; init; }

    public string? LastError { get; init; }

    public Guid? UserId { get; init; }

    public IReadOnlyList<Guid> SharedWith { get; init; } = [];

    public string Scope { get; init; } = "user";

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }
}

/// <summary>Seed 001's cluster (Gyre's registry entry): the uploaded kubeconfig's contexts, the selected one, and the
/// connection state.</summary>
public sealed record RegistryClusterView
{
    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string Description { get; init; } = string.Empty;

    public string Server { get; init; } = string.Empty;

    public string AuthType { get; init; } = string.Empty;

    public string? Context { get; init; }

    public JsonArray Contexts { get; init; } = [];

    public string? Namespace { get; init; }

    public string Scope { get; init; } = "platform";

    /// <summary>Gyre's <c>source</c>: <c>uploaded</c> for a kubeconfig upload, <c>registered</c> otherwise.</summary>
    public string Source { get; init; } = "uploaded";

    public string Status { get; init; } = "unknown";

    public bool Connected { get; init; }

    public string? Version { get; init; }

    public DateTime? LastCheck { get; init; }

    public string? LastError { get; init; }

    public bool IsDefault { get; init; }

    public Guid? OwnerId { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }
}

/// <summary>Reads clusters in the two response shapes (shared by the area's slices so every route answers alike).</summary>
internal static class ClusterShapes
{
    private const string Select = """
        SELECT c.id, c.name, c.display_name, c.description, c.server, c.auth_type, c.status, c.single_node,
               c.labels::text AS labels, c.metadata::text AS metadata, c.version, c.last_check, c.last_error, c.owner_id, c.scope,
               c.context, c.contexts::text AS contexts, c.namespace, c.created_at, c.updated_at, (d.user_id IS NOT NULL) AS is_default,
               COALESCE((SELECT array_agg(s.user_id ORDER BY s.granted_at) FROM clusters.cluster_shares s WHERE s.cluster_id = c.id), '{}') AS shared_with
        FROM clusters.clusters c
        LEFT JOIN clusters.user_defaults d ON d.cluster_id = c.id AND d.user_id = @UserId
        """;

    private static readonly string[] MetadataKeys =
        ["version", "platform", "provider", "region", "nodeCount", "cpuCapacity", "memoryCapacity", "storageClasses", "namespaces", "capabilities", "lastUpdated"];

    public static async Task<ClusterResponse> LoadAsync(DbSession db, Guid clusterId, Caller caller, CancellationToken cancellationToken)
    {
        var row = await db.QuerySingleOrDefaultAsync<Row>($"{Select} WHERE c.id = @Id", new { Id = clusterId, caller.UserId }, cancellationToken)
            ?? throw new NotFoundException("Cluster not found");
        return ToResponse(row, caller);
    }

    public static async Task<List<Row>> VisibleAsync(DbSession db, Caller caller, CancellationToken cancellationToken) =>
        await db.QueryAsync<Row>(
            $"{Select} WHERE {ClusterDirectory.Visible} ORDER BY c.created_at, c.id",
            new { caller.UserId, Manage = caller.Has(Permissions.ClusterManage) },
            cancellationToken);

    public static async Task<RegistryClusterView> LoadRegistryViewAsync(DbSession db, Guid clusterId, Caller caller, CancellationToken cancellationToken)
    {
        var row = await db.QuerySingleOrDefaultAsync<Row>($"{Select} WHERE c.id = @Id", new { Id = clusterId, caller.UserId }, cancellationToken)
            ?? throw new NotFoundException("Cluster not found");
        return ToRegistryView(row);
    }

    public static ClusterResponse ToResponse(Row row, Caller caller)
    {
        // jsonb keeps keys in its own order: rebuild the documented shape, every key present.
        var stored = JsonNode.Parse(row.Metadata) as JsonObject ?? [];
        var metadata = new JsonObject();
        foreach (var key in MetadataKeys)
        {
            metadata[key] = stored[key]?.DeepClone();
        }

        metadata["version"] ??= row.Version;
        metadata["nodeCount"] ??= 0;
        metadata["storageClasses"] ??= new JsonArray();
        metadata["namespaces"] ??= new JsonArray();
        metadata["capabilities"] ??= new JsonArray();
        return new ClusterResponse
        {
            Id = row.Id,
            Name = row.Name,
            DisplayName = row.DisplayName.Length > 0 ? row.DisplayName : row.Name,
            Description = row.Description,
            Server = row.Server,
            AuthType = row.AuthType,
            Status = row.Status,
            Default = row.IsDefault,
            SingleNode = row.SingleNode,
            Labels = JsonNode.Parse(row.Labels) as JsonObject ?? [],
            Metadata = metadata,
            LastCheck = row.LastCheck,
            LastError = row.LastError,
            UserId = row.OwnerId,
            SharedWith = caller.Has(Permissions.ClusterManage) || row.OwnerId == caller.UserId ? row.SharedWith : [],
            Scope = row.Scope,
            CreatedAt = row.CreatedAt,
            UpdatedAt = row.UpdatedAt,
        };
    }

    public static RegistryClusterView ToRegistryView(Row row) => new()
    {
        Id = row.Id,
        Name = row.Name,
        Description = row.Description,
        Server = row.Server,
        AuthType = row.AuthType,
        Context = row.Context,
        Contexts = JsonNode.Parse(row.Contexts) as JsonArray ?? [],
        Namespace = row.Namespace,
        Scope = row.Scope,
        Source = row.AuthType == ClusterAuthTypes.Kubeconfig ? "uploaded" : "registered",
        Status = row.Status,
        Connected = row.Status == "connected",
        Version = row.Version,
        LastCheck = row.LastCheck,
        LastError = row.LastError,
        IsDefault = row.IsDefault,
        OwnerId = row.OwnerId,
        CreatedAt = row.CreatedAt,
        UpdatedAt = row.UpdatedAt,
    };

    internal sealed record Row
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string DisplayName { get; init; } = string.Empty;

        public string Description { get; init; } = string.Empty;

        public string Server { get; init; } = string.Empty;

        public string AuthType { get; init; } = string.Empty;

        public string Status { get; init; } = string.Empty;

        public bool SingleNode { get; init; }

        public string Labels { get; init; } = "{}";

        public string Metadata { get; init; } = "{}";

        public string? Version { get; init; }

        public DateTime? LastCheck { get; init; }

        public string? LastError { get; init; }

        public Guid? OwnerId { get; init; }

        public string Scope { get; init; } = "user";

        public string? Context { get; init; }

        public string Contexts { get; init; } = "[]";

        public string? Namespace { get; init; }

        public DateTime CreatedAt { get; init; }

        public DateTime UpdatedAt { get; init; }

        public bool IsDefault { get; init; }

        public Guid[] SharedWith { get; init; } = [];
    }
}

/// <summary>Seed 002's <c>credentials</c> object (KubeOrch's field names). Write-only: never echoed.</summary>
public sealed record CredentialsInput
{
    public string? Kubeconfig { get; init; }

    public string? Context { get; init; }

    public string? Token { get; init; }

    public string? ClientCertData { get; init; }

    public string? ClientKeyData { get; init; }

    public string? CaData { get; init; }

    public string? OidcIssuerUrl { get; init; }

    public string? OidcClientId { get; init; }

    public string? OidcClientSecret { get; init; }

    public string? OidcRefreshToken { get; init; }

    public string? OidcScopes { get; init; }

    public ClusterCredentials ToCredentials(string? topLevelToken = null, string? topLevelKubeconfig = null, string? topLevelContext = null) => new()
    {
        Kubeconfig = Kubeconfig ?? topLevelKubeconfig,
        Context = Context ?? topLevelContext,
        Token = Token ?? topLevelToken,
        ClientCertData = ClientCertData,
        ClientKeyData = ClientKeyData,
        CaData = CaData,
        OidcIssuerUrl = OidcIssuerUrl,
        OidcClientId = OidcClientId,
        OidcClientSecret = OidcClientSecret,
        OidcRefreshToken = OidcRefreshToken,
        OidcScopes = OidcScopes,
    };
}
