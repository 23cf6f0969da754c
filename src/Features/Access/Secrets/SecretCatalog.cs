using System.Text.Json;
using System.Text.Json.Serialization;

namespace Capstan.Features.Access.Secrets;

/// <summary>
/// One row of the shared <c>/api/v1/secrets</c> resource (DESIGN §1.2): discovered secrets (this area) and, once the
/// fleet area's vault lands beside it, vault secrets — told apart by <c>source</c>. Fields follow seed 003's
/// SecretBody; vault rows fill what applies to them.
/// </summary>
public sealed record SecretBody(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("cluster_name")] string? ClusterName,
    [property: JsonPropertyName("provider_type")] string ProviderType,
    [property: JsonPropertyName("secret_ref")] string SecretRef,
    [property: JsonPropertyName("provider_config")] JsonElement ProviderConfig,
    [property: JsonPropertyName("labels")] JsonElement Labels,
    [property: JsonPropertyName("version")] string? Version,
    [property: JsonPropertyName("checksum")] string? Checksum,
    [property: JsonPropertyName("created_at_source")] DateTime? CreatedAtSource,
    [property: JsonPropertyName("updated_at_source")] DateTime? UpdatedAtSource,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("first_seen_at")] DateTime? FirstSeenAt,
    [property: JsonPropertyName("last_seen_at")] DateTime? LastSeenAt,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTime UpdatedAt);

internal sealed class SecretRow
{
    public Guid Id { get; init; }

    public string Source { get; init; } = string.Empty;

    public string Name { get; init; } = string.Empty;

    public string? ClusterName { get; init; }

    public string ProviderType { get; init; } = string.Empty;

    public string SecretRef { get; init; } = string.Empty;

    public string ProviderConfig { get; init; } = "{}";

    public string Labels { get; init; } = "{}";

    public string? Version { get; init; }

    public string? Checksum { get; init; }

    public DateTime? CreatedAtSource { get; init; }

    public DateTime? UpdatedAtSource { get; init; }

    public string Status { get; init; } = string.Empty;

    public DateTime? FirstSeenAt { get; init; }

    public DateTime? LastSeenAt { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    public SecretBody ToBody() => new(
        Id, Source, Name, ClusterName, ProviderType, SecretRef, AccessJson.Parse(ProviderConfig), AccessJson.Parse(Labels), Version, Checksum,
        CreatedAtSource, UpdatedAtSource, Status, FirstSeenAt, LastSeenAt, CreatedAt, UpdatedAt);
}

/// <summary>
/// The catalog both <c>/secrets</c> routes read. Today it holds only <c>access.discovered_secrets</c>: the fleet vault
/// table does not exist on this branch. The vault side joins as one more branch of the UNION ALL, projecting the same
/// columns — expected from <c>fleet.vault_secrets</c>: <c>id</c>; <c>'vault' AS source</c>; <c>name</c>;
/// <c>NULL AS cluster_name</c>; <c>'vault' AS provider_type</c>; <c>name AS secret_ref</c>; <c>'{}'</c> provider config;
/// its tags/labels object as <c>labels</c>; <c>version::text</c>; <c>NULL</c> checksum and source timestamps;
/// <c>'present'</c> status (or its own); <c>created_at</c>/<c>updated_at</c> also as first/last seen — never a value
/// column.
/// </summary>
internal static class SecretCatalog
{
    public const string Rows = """
        SELECT id, 'discovered'::text AS source, secret_ref AS name, cluster_name, provider_type, secret_ref,
               provider_config, labels, version, checksum, created_at_source, updated_at_source, status,
               first_seen_at, last_seen_at, created_at, updated_at
        FROM access.discovered_secrets
        """;

    public const string Columns = """
        id, source, name, cluster_name, provider_type, secret_ref, provider_config::text AS provider_config, labels::text AS labels,
        version, checksum, created_at_source, updated_at_source, status, first_seen_at, last_seen_at, created_at, updated_at
        """;
}
