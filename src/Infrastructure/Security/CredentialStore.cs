using System.Text.Json;
using Capstan.Infrastructure.Data;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Capstan.Infrastructure.Security;

/// <summary>What a credential turned out to be: a caller, or the reason it was refused.</summary>
public sealed record CredentialCheck(Caller? Caller, string? Failure, bool SessionRefreshed = false, DateTimeOffset? ExpiresAt = null)
{
    public static CredentialCheck Refused(string reason) => new(null, reason);
}

/// <summary>
/// Turns presented credentials (session cookie, session JWT, API key, WebSocket ticket) into a <see cref="Caller"/> with
/// the user's effective permissions: their base role's set plus what their custom roles grant. Only SHA-256 hashes of
/// bearer secrets are ever looked up. Sessions slide: past half their lifetime, use extends them.
/// </summary>
public sealed class CredentialStore(IServiceProvider services, IConfiguration configuration, TimeProvider clock)
{
    private const string UserColumns = """
        u.id AS user_id, u.username, u.email, u.name, u.role,
        COALESCE((SELECT jsonb_agg(jsonb_build_object('permissions', to_jsonb(r.permissions), 'scope', ur.scope))
                  FROM identity.user_roles ur JOIN identity.roles r ON r.id = ur.role_id
                  WHERE ur.user_id = u.id), '[]'::jsonb)::text AS grants
        """;

    private const string SessionByToken = $"""
        SELECT s.id AS session_id, s.expires_at, s.refreshed_at, {UserColumns}
        FROM identity.sessions s JOIN identity.users u ON u.id = s.user_id
        WHERE s.token_hash = @Hash AND s.revoked_at IS NULL AND s.expires_at > @Now AND u.active
        """;

    private const string SessionById = $"""
        SELECT s.id AS session_id, s.expires_at, s.refreshed_at, {UserColumns}
        FROM identity.sessions s JOIN identity.users u ON u.id = s.user_id
        WHERE s.id = @SessionId AND s.user_id = @UserId AND s.revoked_at IS NULL AND s.expires_at > @Now AND u.active
        """;

    private const string Slide = """
        UPDATE identity.sessions SET expires_at = @ExpiresAt, refreshed_at = @Now WHERE id = @SessionId AND revoked_at IS NULL
        """;

    private const string ApiKeyByHash = $"""
        SELECT k.id AS key_id, k.role AS key_role, k.expires_at, k.revoked_at, u.active, {UserColumns}
        FROM identity.api_keys k JOIN identity.users u ON u.id = k.user_id
        WHERE k.key_hash = @Hash
        """;

    private const string TouchApiKey = """
        UPDATE identity.api_keys SET last_used_at = @Now
        WHERE id = @KeyId AND (last_used_at IS NULL OR last_used_at < @Now - interval '1 minute')
        """;

    private const string ConsumeTicket = $"""
        WITH used AS (
            UPDATE identity.ws_tickets SET used_at = @Now
            WHERE ticket_hash = @Hash AND used_at IS NULL AND expires_at > @Now
            RETURNING user_id
        )
        SELECT {UserColumns}
        FROM used JOIN identity.users u ON u.id = used.user_id
        WHERE u.active
        """;

    /// <summary>How long a session lives without use (<c>Identity:SessionLifetime</c>, two days by default).</summary>
    public TimeSpan SessionLifetime => configuration.GetValue("Identity:SessionLifetime", TimeSpan.FromDays(2));

    public async Task<CredentialCheck> FromSessionTokenAsync(string token, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<SessionRow>(new CommandDefinition(
            SessionByToken, new { Hash = SecretTokens.Hash(token), Now = Now }, cancellationToken: cancellationToken));
        return row is null ? CredentialCheck.Refused("Session expired or signed out") : await SlideAsync(connection, row, AuthMethod.Session, cancellationToken);
    }

    public async Task<CredentialCheck> FromSessionAsync(Guid sessionId, Guid userId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<SessionRow>(new CommandDefinition(
            SessionById, new { SessionId = sessionId, UserId = userId, Now = Now }, cancellationToken: cancellationToken));
        return row is null ? CredentialCheck.Refused("Session expired or signed out") : await SlideAsync(connection, row, AuthMethod.Jwt, cancellationToken);
    }

    public async Task<CredentialCheck> FromApiKeyAsync(string key, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<ApiKeyRow>(new CommandDefinition(
            ApiKeyByHash, new { Hash = SecretTokens.Hash(key) }, cancellationToken: cancellationToken));
        if (row is null || row.RevokedAt is not null || !row.Active)
        {
            return CredentialCheck.Refused("Invalid API key");
        }

        if (row.ExpiresAt is { } expiresAt && expiresAt <= Now)
        {
            return CredentialCheck.Refused("API key has expired");
        }

        await connection.ExecuteAsync(new CommandDefinition(TouchApiKey, new { row.KeyId, Now = Now }, cancellationToken: cancellationToken));
        var userRole = BaseRoles.Parse(row.Role);
        var keyRole = row.KeyRole is null ? userRole : (BaseRole)Math.Min((int)userRole, (int)BaseRoles.Parse(row.KeyRole));
        // A key limited below its owner's role carries only that role's permissions, never the owner's custom grants.
        var caller = keyRole < userRole
            ? BuildCaller(row with { Grants = "[]" }, keyRole, AuthMethod.ApiKey, null, row.KeyId)
            : BuildCaller(row, userRole, AuthMethod.ApiKey, null, row.KeyId);
        return new CredentialCheck(caller, null, ExpiresAt: row.ExpiresAt is { } keyExpiry ? new DateTimeOffset(keyExpiry, TimeSpan.Zero) : null);
    }

    /// <summary>Consumes a WebSocket ticket: the first use wins, across replicas.</summary>
    public async Task<CredentialCheck> FromTicketAsync(string ticket, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<UserRow>(new CommandDefinition(
            ConsumeTicket, new { Hash = SecretTokens.Hash(ticket), Now = Now }, cancellationToken: cancellationToken));
        return row is null
            ? CredentialCheck.Refused("Invalid, used or expired ticket")
            : new CredentialCheck(BuildCaller(row, BaseRoles.Parse(row.Role), AuthMethod.Ticket, null, null), null);
    }

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) =>
        await services.GetRequiredService<DataSources>().Primary.OpenConnectionAsync(cancellationToken);

    private async Task<CredentialCheck> SlideAsync(NpgsqlConnection connection, SessionRow row, AuthMethod method, CancellationToken cancellationToken)
    {
        var caller = BuildCaller(row, BaseRoles.Parse(row.Role), method, row.SessionId, null);
        var lifetime = SessionLifetime;
        if (Now - row.RefreshedAt < lifetime / 2)
        {
            return new CredentialCheck(caller, null, ExpiresAt: new DateTimeOffset(row.ExpiresAt, TimeSpan.Zero));
        }

        var expiresAt = Now + lifetime;
        await connection.ExecuteAsync(new CommandDefinition(Slide, new { row.SessionId, ExpiresAt = expiresAt, Now = Now }, cancellationToken: cancellationToken));
        return new CredentialCheck(caller, null, SessionRefreshed: true, ExpiresAt: new DateTimeOffset(expiresAt, TimeSpan.Zero));
    }

    /// <summary>Base-role permissions plus custom-role grants: unscoped grants join the global set, scoped ones stay
    /// scoped.</summary>
    public static Caller BuildCaller(UserRow row, BaseRole role, AuthMethod method, Guid? sessionId, Guid? apiKeyId)
    {
        var permissions = new HashSet<string>(PermissionCatalog.Of(role), StringComparer.Ordinal);
        var scoped = new List<ScopedGrant>();
        foreach (var grant in JsonSerializer.Deserialize<List<GrantRow>>(row.Grants) ?? [])
        {
            var scope = (grant.Scope ?? [])
                .Where(entry => entry.Value.ValueKind == JsonValueKind.String && entry.Value.GetString() is { Length: > 0 })
                .ToDictionary(entry => entry.Key, entry => entry.Value.GetString()!, StringComparer.Ordinal);
            foreach (var permission in grant.Permissions ?? [])
            {
                if (scope.Count == 0)
                {
                    permissions.Add(permission);
                }
                else
                {
                    scoped.Add(new ScopedGrant(permission, scope));
                }
            }
        }

        return new Caller(row.UserId, row.Username, row.Email, row.Name, role, method, sessionId, apiKeyId, permissions, scoped);
    }

    public record UserRow
    {
        public Guid UserId { get; init; }

        public string Username { get; init; } = string.Empty;

        public string? Email { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Role { get; init; } = "viewer";

        public string Grants { get; init; } = "[]";
    }

    private sealed record SessionRow : UserRow
    {
        public Guid SessionId { get; init; }

        public DateTime ExpiresAt { get; init; }

        public DateTime RefreshedAt { get; init; }
    }

    private sealed record ApiKeyRow : UserRow
    {
        public Guid KeyId { get; init; }

        public string? KeyRole { get; init; }

        public DateTime? ExpiresAt { get; init; }

        public DateTime? RevokedAt { get; init; }

        public bool Active { get; init; }
    }

    private sealed record GrantRow(
        [property: System.Text.Json.Serialization.JsonPropertyName("permissions")] List<string>? Permissions,
        [property: System.Text.Json.Serialization.JsonPropertyName("scope")] Dictionary<string, JsonElement>? Scope);
}
