using Capstan.Infrastructure.Data;
using Microsoft.Extensions.Configuration;

namespace Capstan.Infrastructure.Security;

/// <summary>A started session: the cookie token (shown once, stored hashed), the bearer JWT bound to it, and the CSRF
/// token for cookie clients.</summary>
public sealed record IssuedSession(
    Guid SessionId,
    string SessionToken,
    DateTimeOffset SessionExpiresAt,
    string Jwt,
    DateTimeOffset JwtExpiresAt,
    string CsrfToken);

/// <summary>
/// Starts and ends server-side sessions for every way of signing in (password, SSO, registration, code exchange).
/// A user keeps at most <c>Identity:MaxSessionsPerUser</c> (10) live sessions; starting one more ends the oldest.
/// </summary>
public sealed class SessionIssuer(SessionTokens tokens, CsrfTokens csrf, CredentialStore credentials, IConfiguration configuration, TimeProvider clock)
{
    private const string Insert = """
        INSERT INTO identity.sessions (id, user_id, token_hash, created_at, refreshed_at, expires_at, ip_address, user_agent)
        VALUES (@Id, @UserId, @TokenHash, @Now, @Now, @ExpiresAt, @IpAddress, @UserAgent)
        """;

    private const string EvictOldest = """
        UPDATE identity.sessions SET revoked_at = @Now
        WHERE user_id = @UserId AND revoked_at IS NULL
          AND id NOT IN (SELECT id FROM identity.sessions
                         WHERE user_id = @UserId AND revoked_at IS NULL
                         ORDER BY created_at DESC, id DESC LIMIT @Keep)
        """;

    private const string RevokeByToken = """
        UPDATE identity.sessions SET revoked_at = @Now WHERE token_hash = @TokenHash AND revoked_at IS NULL
        """;

    /// <summary>How long a bearer JWT is valid (<c>Identity:TokenLifetime</c>, 24 hours), never past its session.</summary>
    public TimeSpan TokenLifetime => configuration.GetValue("Identity:TokenLifetime", TimeSpan.FromHours(24));

    public async Task<IssuedSession> StartAsync(DbSession db, Guid userId, string username, BaseRole role, RequestContext request, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var sessionId = Guid.CreateVersion7();
        var sessionToken = SecretTokens.Generate();
        var expiresAt = now + credentials.SessionLifetime;
        await db.ExecuteAsync(
            Insert,
            new
            {
                Id = sessionId,
                UserId = userId,
                TokenHash = SecretTokens.Hash(sessionToken),
                Now = now.UtcDateTime,
                ExpiresAt = expiresAt.UtcDateTime,
                request.IpAddress,
                request.UserAgent,
            },
            cancellationToken);
        await db.ExecuteAsync(
            EvictOldest,
            new { UserId = userId, Now = now.UtcDateTime, Keep = configuration.GetValue("Identity:MaxSessionsPerUser", 10) },
            cancellationToken);

        var jwtExpiresAt = Min(now + TokenLifetime, expiresAt);
        return new IssuedSession(
            sessionId,
            sessionToken,
            expiresAt,
            tokens.Issue(userId, username, role.Name(), sessionId, jwtExpiresAt),
            jwtExpiresAt,
            csrf.For(sessionId));
    }

    /// <summary>A fresh JWT for a live session (refresh).</summary>
    public (string Jwt, DateTimeOffset ExpiresAt) Reissue(Guid userId, string username, BaseRole role, Guid sessionId, DateTimeOffset sessionExpiresAt)
    {
        var expiresAt = Min(clock.GetUtcNow() + TokenLifetime, sessionExpiresAt);
        return (tokens.Issue(userId, username, role.Name(), sessionId, expiresAt), expiresAt);
    }

    /// <summary>Ends the session a cookie token names (a new sign-in replaces the browser's old session).</summary>
    public Task RevokeTokenAsync(DbSession db, string sessionToken, CancellationToken cancellationToken) =>
        db.ExecuteAsync(RevokeByToken, new { TokenHash = SecretTokens.Hash(sessionToken), Now = clock.GetUtcNow().UtcDateTime }, cancellationToken);

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
