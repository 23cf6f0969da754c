using System.Text.Json;
using System.Text.Json.Serialization;

namespace Capstan.Features.Access.Secrets;

/// <summary>
/// One row of the shared <c>/api/v1/secrets</c> resource (DESIGN §1.2): discovered secrets (this area) and vault
/// secrets (the fleet area), told apart by <c>source</c>. Fields follow seed 003's SecretBody; vault rows fill what
/// applies to them and add seed 004's Secret fields (camelCase, through <see cref="Vault"/>), so both consoles read
/// the one list.
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
    [property: JsonPropertyName("updated_at")] DateTime UpdatedAt)
{
    /// <summary>Seed 004's vault fields (<c>description, type, instanceId, scope, expiresAt, isExpired,
    /// daysUntilExpiry, createdBy, createdAt, updatedAt, lastRotatedAt</c>), written beside the others on vault rows
    /// only, nulls included; a discovered row has none.</summary>
    [JsonExtensionData]
    public Dictionary<string, object?>? Vault { get; init; }
}

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

    public string? Description { get; init; }

    public string? Type { get; init; }

    public Guid? InstanceId { get; init; }

    public string[]? Scope { get; init; }

    public DateTime? ExpiresAt { get; init; }

    public Guid? CreatedBy { get; init; }

    public DateTime? LastRotatedAt { get; init; }

    public SecretBody ToBody(DateTime now) => new(
        Id, Source, Name, ClusterName, ProviderType, SecretRef, AccessJson.Parse(ProviderConfig), AccessJson.Parse(Labels), Version, Checksum,
        CreatedAtSource, UpdatedAtSource, Status, FirstSeenAt, LastSeenAt, CreatedAt, UpdatedAt)
    {
        Vault = Source != "vault" ? null : new Dictionary<string, object?>
        {
            ["description"] = Description,
            ["type"] = Type,
            ["instanceId"] = InstanceId,
            ["scope"] = Scope ?? [],
            ["expiresAt"] = ExpiresAt,
            ["isExpired"] = ExpiresAt is { } expired && expired <= now,
            ["daysUntilExpiry"] = ExpiresAt is { } expires ? (long)Math.Ceiling((expires - now).TotalDays) : null,
            ["createdBy"] = CreatedBy,
            ["createdAt"] = CreatedAt,
            ["updatedAt"] = UpdatedAt,
            ["lastRotatedAt"] = LastRotatedAt,
        },
    };
}

/// <summary>
/// The catalog both <c>/secrets</c> routes read: <c>access.discovered_secrets</c> and the fleet vault
/// (<c>fleet.vault_secrets</c>) as one UNION ALL projecting the same columns. A vault row is <c>source = 'vault'</c>,
/// <c>provider_type = 'vault'</c>, its name as <c>secret_ref</c>, no cluster, <c>labels</c> = <c>{type, instance_id?,
/// scope?}</c> (so seed 004's <c>type</c>/<c>instanceId</c> filters are label filters), its version as text, status
/// <c>present</c>, created/updated also as first/last seen, plus its own seed-004 columns — never a value column.
/// </summary>
internal static class SecretCatalog
{
    public const string Rows = """
        SELECT id, 'discovered'::text AS source, secret_ref AS name, cluster_name, provider_type, secret_ref,
               provider_config, labels, version, checksum, created_at_source, updated_at_source, status,
               first_seen_at, last_seen_at, created_at, updated_at,
               NULL::text AS description, NULL::text AS type, NULL::uuid AS instance_id, NULL::text[] AS scope,
               NULL::timestamptz AS expires_at, NULL::uuid AS created_by, NULL::timestamptz AS last_rotated_at, NULL::uuid AS team_id
        FROM access.discovered_secrets
        UNION ALL
        SELECT v.id, 'vault'::text, v.name, NULL::text, 'vault'::text, v.name,
               '{}'::jsonb, jsonb_strip_nulls(jsonb_build_object('type', v.type, 'instance_id', v.instance_id::text,
                                                                 'scope', CASE WHEN cardinality(v.scope) > 0 THEN array_to_string(v.scope, ',') END)),
               v.version::text, NULL::text, NULL::timestamptz, NULL::timestamptz, 'present'::text,
               v.created_at, v.updated_at, v.created_at, v.updated_at,
               v.description, v.type, v.instance_id, v.scope, v.expires_at, v.created_by, v.last_rotated_at, i.team_id
        FROM fleet.vault_secrets v LEFT JOIN fleet.instances i ON i.id = v.instance_id
        """;

    /// <summary>Team scoping of the vault half (sindri.md §3.2, as the fleet's instance routes apply it): a vault
    /// secret bound to an instance of a team the caller is not in is invisible, like the instance itself. Needs
    /// <c>@SeesAllTeams</c> and <c>@TeamIds</c>.</summary>
    public const string Visible = "(instance_id IS NULL OR @SeesAllTeams OR team_id IS NULL OR team_id = ANY(@TeamIds))";

    public const string Columns = """
        id, source, name, cluster_name, provider_type, secret_ref, provider_config::text AS provider_config, labels::text AS labels,
        version, checksum, created_at_source, updated_at_source, status, first_seen_at, last_seen_at, created_at, updated_at,
        description, type, instance_id, scope, expires_at, created_by, last_rotated_at
        """;
}
