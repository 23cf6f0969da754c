using System.Globalization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Settings;
using Microsoft.Extensions.Configuration;

namespace Capstan.Infrastructure.Security;

public enum SignInStatus
{
    SignedIn,
    InvalidCredentials,
    Locked,
    RateLimited,
    LocalLoginDisabled,
}

/// <summary>The user as every sign-in answer shows them (the union of the seeds' user objects).</summary>
public sealed record SignedInUser(
    Guid Id,
    string Username,
    string? Email,
    string Name,
    string Role,
    bool RequiresPasswordChange,
    string AuthProvider,
    string? AvatarUrl,
    DateTime CreatedAt)
{
    public bool CanChangePassword => AuthProvider == "local";
}

public sealed record SignInOutcome(SignInStatus Status, string Message, TimeSpan? RetryAfter = null, SignedInUser? User = null, IssuedSession? Session = null);

/// <summary>
/// Username-or-e-mail and password sign-in, shared by both login routes: the local-login switch, a per-IP rate limit
/// shared across replicas, per-login lockout (five failures, then 2^(n-5) minutes, at most a day), uniform timing
/// for unknown names, an audit row for every attempt, and a new session on success. Outcomes are returned, not
/// thrown, so the failure count and audit row commit with the request.
/// </summary>
public sealed class PasswordSignIn(
    RateLimiter rateLimiter,
    AuthSettings settings,
    AuditTrail audit,
    SessionIssuer sessions,
    IConfiguration configuration,
    TimeProvider clock)
{
    private const string FindUser = """
        SELECT id, username, email, name, role, password_hash, active, requires_password_change, auth_provider, avatar_url, created_at
        FROM identity.users
        WHERE username = @Login OR email = @Login
        ORDER BY (username = @Login) DESC
        LIMIT 1
        """;

    private const string ReadLock = "SELECT failed_attempts, locked_until FROM identity.login_failures WHERE login = @Login";

    private const string RecordFailure = """
        INSERT INTO identity.login_failures AS f (login, failed_attempts, locked_until, updated_at)
        VALUES (@Login, 1, NULL, @Now)
        ON CONFLICT (login) DO UPDATE SET failed_attempts = f.failed_attempts + 1, updated_at = @Now
        RETURNING failed_attempts
        """;

    private const string Lock = "UPDATE identity.login_failures SET locked_until = @LockedUntil WHERE login = @Login";

    private const string ClearFailures = "DELETE FROM identity.login_failures WHERE login = ANY(@Logins)";

    private const string TouchLogin = "UPDATE identity.users SET last_login_at = @Now WHERE id = @Id";

    public const int FailuresBeforeLockout = 5;

    public async Task<SignInOutcome> SignInAsync(DbSession db, RequestContext request, string login, string password, string? replacedSessionToken, CancellationToken cancellationToken)
    {
        var normalised = login.Trim().ToLowerInvariant();
        var policy = await settings.ReadPolicyAsync(db, cancellationToken);
        if (!policy.LocalLoginEnabled)
        {
            Audit(AuditResult.Denied, "local_login_disabled", null);
            return new SignInOutcome(SignInStatus.LocalLoginDisabled, "Local username/password sign-in is disabled.");
        }

        var limit = new RateLimitRule(configuration.GetValue("Identity:LoginRateLimit:PermitPerMinute", 20), TimeSpan.FromMinutes(1));
        var decision = await rateLimiter.HitAsync($"login:ip:{request.IpAddress}", limit, cancellationToken);
        if (!decision.Allowed)
        {
            Audit(AuditResult.Denied, "rate_limited", null);
            return new SignInOutcome(SignInStatus.RateLimited, "Too many sign-in attempts. Please try again later.", decision.RetryAfter);
        }

        var now = clock.GetUtcNow();
        var lockout = await db.QuerySingleOrDefaultAsync<LockRow>(ReadLock, new { Login = normalised }, cancellationToken);
        if (lockout is { LockedUntil: { } lockedUntil } && lockedUntil > now.UtcDateTime)
        {
            var wait = new DateTimeOffset(lockedUntil, TimeSpan.Zero) - now;
            Audit(AuditResult.Denied, "account_locked", null);
            return new SignInOutcome(
                SignInStatus.Locked,
                string.Create(CultureInfo.InvariantCulture, $"Account locked due to too many failed attempts. Try again in {Math.Ceiling(wait.TotalSeconds)} seconds."),
                wait);
        }

        var user = await db.QuerySingleOrDefaultAsync<UserRow>(FindUser, new { Login = normalised }, cancellationToken);
        var valid = user is { Active: true, PasswordHash: not null } && Passwords.Verify(user.PasswordHash, password);
        if (user is null or { PasswordHash: null })
        {
            Passwords.VerifyNothing(password);
        }

        if (!valid)
        {
            var failures = await db.ExecuteScalarAsync<long>(RecordFailure, new { Login = normalised, Now = now.UtcDateTime }, cancellationToken);
            if (failures >= FailuresBeforeLockout)
            {
                var minutes = Math.Min(1440, Math.Pow(2, failures - FailuresBeforeLockout));
                await db.ExecuteAsync(Lock, new { Login = normalised, LockedUntil = now.AddMinutes(minutes).UtcDateTime }, cancellationToken);
            }

            var kind = user is null ? "user_not_found" : !user.Active ? "user_disabled" : user.PasswordHash is null ? "no_local_password" : "wrong_password";
            Audit(AuditResult.Denied, kind, user);
            return new SignInOutcome(SignInStatus.InvalidCredentials, "Invalid username or password");
        }

        await db.ExecuteAsync(ClearFailures, new { Logins = new[] { normalised, user!.Username } }, cancellationToken);
        await db.ExecuteAsync(TouchLogin, new { user.Id, Now = now.UtcDateTime }, cancellationToken);
        if (!string.IsNullOrEmpty(replacedSessionToken))
        {
            await sessions.RevokeTokenAsync(db, replacedSessionToken, cancellationToken);
        }

        var session = await sessions.StartAsync(db, user.Id, user.Username, BaseRoles.Parse(user.Role), request, cancellationToken);
        Audit(AuditResult.Success, null, user);
        return new SignInOutcome(
            SignInStatus.SignedIn,
            "Signed in",
            User: new SignedInUser(user.Id, user.Username, user.Email, user.Name, user.Role, user.RequiresPasswordChange, user.AuthProvider, user.AvatarUrl, user.CreatedAt),
            Session: session);
    }

    // Never the login name as typed (it may be a mistyped password); the length says enough for forensics.
    private void Audit(AuditResult result, string? errorKind, UserRow? user) =>
        audit.Record(new AuditEntry(
            "auth.login",
            "user",
            user?.Id.ToString(),
            user?.Username,
            errorKind is null ? new { method = "password" } : new { method = "password", error_kind = errorKind },
            result)
        {
            ActorType = user is null || result != AuditResult.Success ? "anonymous" : "user",
            ActorId = result == AuditResult.Success ? user?.Id : null,
            ActorName = result == AuditResult.Success ? user?.Username : null,
        });

    private sealed record LockRow(long FailedAttempts, DateTime? LockedUntil);

    private sealed record UserRow
    {
        public Guid Id { get; init; }

        public string Username { get; init; } = string.Empty;

        public string? Email { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Role { get; init; } = "viewer";

        public string? PasswordHash { get; init; }

        public bool Active { get; init; }

        public bool RequiresPasswordChange { get; init; }

        public string AuthProvider { get; init; } = "local";

        public string? AvatarUrl { get; init; }

        public DateTime CreatedAt { get; init; }
    }
}
