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
/// The catalog both <c>/secrets</c> routes read: <c>access.discovered_secrets</c> and the fleet vault
/// (<c>fleet.vault_secrets</c>) as one UNION ALL projecting the same columns. A vault row is <c>source = 'vault'</c>,
/// <c>provider_type = 'vault'</c>, its name as <c>secret_ref</c>, no cluster, <c>labels</c> = <c>{type, instance_id?,
/// scope?}</c> (so seed 004's <c>type</c>/<c>instanceId</c> filters are label filters), its version as text, status
/// <c>present</c>, created/updated also as first/last seen — never a value column.
/// </summary>
internal static class SecretCatalog
{
    public const string Rows = """
        SELECT id, 'discovered'::text AS source, secret_ref AS name, cluster_name, provider_type, secret_ref,
               provider_config, labels, version, checksum, created_at_source, updated_at_source, status,
               first_seen_at, last_seen_at, created_at, updated_at
        FROM access.discovered_secrets
        UNION ALL
        SELECT id, 'vault'::text, name, NULL::text, 'vault'::text, name,
               '{}'::jsonb, jsonb_strip_nulls(jsonb_build_object('type', type, 'instance_id', instance_id::text,
                                                                 'scope', CASE WHEN cardinality(scope) > 0 THEN array_to_string(scope, ',') END)),
               version::text, NULL::text, NULL::timestamptz, NULL::timestamptz, 'present'::text,
               created_at, updated_at, created_at, updated_at
        FROM fleet.vault_secrets
        """;

    public const string Columns = """
        id, source, name, cluster_name, provider_type, secret_ref, provider_config::text AS provider_config, labels::text AS labels,
        version, checksum, created_at_source, updated_at_source, status, first_seen_at, last_seen_at, created_at, updated_at
        """;
}
