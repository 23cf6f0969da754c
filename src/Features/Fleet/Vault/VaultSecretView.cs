namespace Capstan.Features.Fleet.Vault;

/// <summary>A vault secret's metadata as seed 004's console reads it (camelCase), never its value. <c>source</c> is
/// always <c>vault</c>, as in the shared <c>/api/v1/secrets</c> list (DESIGN §1.2).</summary>
public sealed record VaultSecretView(
    Guid Id,
    string Source,
    string Name,
    string? Description,
    string Type,
    Guid? InstanceId,
    string[] Scope,
    long Version,
    DateTime? ExpiresAt,
    bool IsExpired,
    long? DaysUntilExpiry,
    Guid? CreatedBy,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    DateTime? LastRotatedAt);

internal sealed record VaultSecretRow
{
    /// <summary>Every column but the encrypted value, of a vault secret aliased <c>s</c>.</summary>
    public const string Columns = "s.id, s.name, s.description, s.type, s.instance_id, s.scope, s.version, s.expires_at, s.created_by, s.created_at, s.updated_at, s.last_rotated_at";

    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string? Description { get; init; }

    public string Type { get; init; } = string.Empty;

    public Guid? InstanceId { get; init; }

    public string[] Scope { get; init; } = [];

    public long Version { get; init; }

    public DateTime? ExpiresAt { get; init; }

    public Guid? CreatedBy { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    public DateTime? LastRotatedAt { get; init; }

    public VaultSecretView ToView(DateTime now) => new(
        Id, "vault", Name, Description, Type, InstanceId, Scope, Version, ExpiresAt, ExpiresAt is { } expired && expired <= now,
        ExpiresAt is { } expires ? (long)Math.Ceiling((expires - now).TotalDays) : null, CreatedBy, CreatedAt, UpdatedAt, LastRotatedAt);
}

/// <summary>Rules shared by the vault's writes: vocabularies, limits, the associated data binding a ciphertext to its
/// row, and the lookup that tells a vault secret from a discovered one (409) or an unknown id (404).</summary>
internal static class Vault
{
    public static readonly string[] Types = ["ENV_VAR", "FILE", "CERTIFICATE", "API_KEY"];

    public const string NamePattern = @"^[\w.-]+$";

    /// <summary>Largest value accepted (64 KiB of UTF-8, enough for certificates and key files).</summary>
    public const int MaxValueBytes = 65536;

    public static string AssociatedData(Guid id) => $"fleet.vault_secrets:{id}";

    private const string Lookup = $"""
        SELECT {VaultSecretRow.Columns}
        FROM fleet.vault_secrets s LEFT JOIN fleet.instances i ON i.id = s.instance_id
        WHERE s.id = @Id AND (s.instance_id IS NULL OR {FleetVisibility.Predicate})
        """;

    /// <summary>The vault secret <paramref name="id"/> (locked for update when <paramref name="forUpdate"/>); a
    /// discovered secret of the same resource is a 409, anything else a 404.</summary>
    public static async Task<VaultSecretRow> FindAsync(
        Capstan.Infrastructure.Data.DbSession db, Capstan.Infrastructure.Security.Caller caller, Guid id, bool forUpdate, CancellationToken cancellationToken)
    {
        var scope = FleetVisibility.Of(caller);
        var sql = forUpdate ? Lookup + " FOR UPDATE OF s" : Lookup;
        var row = await db.QuerySingleOrDefaultAsync<VaultSecretRow>(sql, new { Id = id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
        if (row is not null)
        {
            return row;
        }

        if (await db.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM access.discovered_secrets WHERE id = @Id)", new { Id = id }, cancellationToken))
        {
            throw new Capstan.Infrastructure.Errors.ConflictException("Discovered secrets are read-only here: only vault secrets can be changed or revealed");
        }

        throw new Capstan.Infrastructure.Errors.NotFoundException("Secret not found");
    }
}
