using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Settings;

namespace Capstan.Infrastructure.Sso;

/// <summary>
/// Who an identity provider's user is here (Gyre's rules). A known (provider, subject) pair is that user: refused when
/// deactivated, otherwise their name, e-mail and picture follow the provider and their role follows the role claim
/// (a changed role ends their other sessions). An unknown subject is provisioned just in time, in this order of
/// refusal: a deactivated user with that username or e-mail (<c>user_disabled</c>), sign-up closed
/// (<c>signup_disabled</c>), provisioning off for the provider (<c>auto_provision_disabled</c>), an e-mail outside the
/// domain allowlist (<c>domain_not_allowed</c>), an e-mail another account holds (<c>email_in_use</c>; accounts are
/// never linked by e-mail). A taken username gets the suffix <c>_&lt;first 8 of the subject&gt;</c>.
/// </summary>
public sealed partial class SsoProvisioning(AuthSettings settings, AuditTrail audit, TimeProvider clock)
{
    private const string LockSubject = "SELECT pg_advisory_xact_lock(hashtextextended(@Key, 0))";

    private const string FindLinked = """
        SELECT a.id AS account_id, u.id, u.username, u.email, u.name, u.role, u.active, u.auth_provider, u.avatar_url, u.created_at
        FROM identity.external_accounts a JOIN identity.users u ON u.id = a.user_id
        WHERE a.provider_id = @ProviderId AND a.subject = @Subject
        """;

    private const string EmailHeldByOther = "SELECT EXISTS (SELECT 1 FROM identity.users WHERE email = @Email AND id <> @Id)";

    private const string UpdateLinked = """
        UPDATE identity.users
        SET name = @Name, email = @Email, avatar_url = @AvatarUrl, role = @Role, last_login_at = @Now,
            updated_at = CASE WHEN (name, email, avatar_url, role) IS DISTINCT FROM (@Name, @Email, @AvatarUrl, @Role) THEN @Now ELSE updated_at END
        WHERE id = @Id
        """;

    private const string TouchAccount = "UPDATE identity.external_accounts SET last_login_at = @Now WHERE id = @AccountId";

    private const string EndSessions = "UPDATE identity.sessions SET revoked_at = @Now WHERE user_id = @UserId AND revoked_at IS NULL";

    // The role's default Flux policies (as creating or updating a user does); admins pass every check without them.
    private const string RebindDefaults = """
        DELETE FROM identity.flux_bindings b USING identity.flux_policies p
        WHERE b.policy_id = p.id AND p.is_system AND b.user_id = @UserId;
        INSERT INTO identity.flux_bindings (id, user_id, policy_id, cluster, created_by)
        SELECT platform.uuid_v7(), @UserId, p.id, '', NULL
        FROM identity.flux_policies p
        WHERE p.is_system AND p.is_active
          AND p.role = CASE @Role WHEN 'operator' THEN 'operator' WHEN 'admin' THEN NULL ELSE 'viewer' END
        ON CONFLICT DO NOTHING;
        """;

    private const string DisabledMatch = """
        SELECT EXISTS (SELECT 1 FROM identity.users WHERE NOT active AND (username = @Username OR (@Email::text IS NOT NULL AND email = @Email)))
        """;

    private const string EmailTaken = "SELECT EXISTS (SELECT 1 FROM identity.users WHERE email = @Email)";

    private const string InsertUser = """
        INSERT INTO identity.users (id, username, email, name, password_hash, role, auth_provider, avatar_url, last_login_at, created_at, updated_at)
        VALUES (@Id, @Username, @Email, @Name, NULL, @Role, @AuthProvider, @AvatarUrl, @Now, @Now, @Now);
        INSERT INTO identity.external_accounts (id, provider_id, subject, user_id, created_at, last_login_at)
        VALUES (@AccountId, @ProviderId, @Subject, @Id, @Now, @Now);
        """;

    public async Task<SsoResult> SignInAsync(DbSession db, SsoProvider provider, JsonObject claims, CancellationToken cancellationToken)
    {
        var subject = OidcClient.Text(claims["sub"]) ?? claims["id"]?.GetValueKind() switch
        {
            JsonValueKind.Number or JsonValueKind.String => claims["id"]!.ToString(),
            _ => null,
        };
        if (string.IsNullOrEmpty(subject) || subject.Length > 255)
        {
            return SsoResult.Failed(SsoReasons.InvalidUserInfo);
        }

        // One sign-in per (provider, subject) at a time, so two first sign-ins cannot both provision.
        await db.ExecuteAsync(LockSubject, new { Key = $"sso:{provider.Id}:{subject}" }, cancellationToken);
        var profile = Profile.From(claims, provider);
        var role = SsoRoleMapping.Resolve(provider.RoleMapping, profile.Groups, provider.DefaultRole).Name();
        var now = clock.GetUtcNow().UtcDateTime;

        var linked = await db.QuerySingleOrDefaultAsync<LinkedUser>(FindLinked, new { ProviderId = provider.Id, Subject = subject }, cancellationToken);
        if (linked is not null)
        {
            return await UpdateLinkedAsync(db, linked, profile, role, now, cancellationToken);
        }

        if (profile.Username is null)
        {
            return SsoResult.Failed(SsoReasons.UserNotFound);
        }

        if (await db.ExecuteScalarAsync<bool>(DisabledMatch, new { profile.Username, profile.Email }, cancellationToken))
        {
            return SsoResult.Failed(SsoReasons.UserDisabled);
        }

        var policy = await settings.ReadPolicyAsync(db, cancellationToken);
        if (!policy.AllowSignup)
        {
            return SsoResult.Failed(SsoReasons.SignupDisabled);
        }

        if (!provider.AutoProvision)
        {
            return SsoResult.Failed(SsoReasons.AutoProvisionDisabled);
        }

        if (!policy.AllowsDomainOf(profile.Email))
        {
            return SsoResult.Failed(SsoReasons.DomainNotAllowed);
        }

        if (profile.Email is not null && await db.ExecuteScalarAsync<bool>(EmailTaken, new { profile.Email }, cancellationToken))
        {
            return SsoResult.Failed(SsoReasons.EmailInUse);
        }

        var suffix = Usernames.Sanitise(subject.Length > 8 ? subject[..8] : subject) ?? SecretTokens.GenerateHex(4);
        var username = await Usernames.FirstFreeAsync(
            db,
            [profile.Username, $"{profile.Username}_{suffix}", .. Enumerable.Range(2, 20).Select(n => $"{profile.Username}_{suffix}_{n}")],
            cancellationToken);
        var user = new SsoUser(Guid.CreateVersion7(), username, profile.Email, profile.Name ?? username, role, SsoProviderTypes.Icon(provider.Type), profile.AvatarUrl, now);
        await db.ExecuteAsync(
            InsertUser,
            new
            {
                user.Id,
                user.Username,
                user.Email,
                user.Name,
                user.Role,
                user.AuthProvider,
                user.AvatarUrl,
                Now = now,
                AccountId = Guid.CreateVersion7(),
                ProviderId = provider.Id,
                Subject = subject,
            },
            cancellationToken);
        await db.ExecuteAsync(RebindDefaults, new { UserId = user.Id, user.Role }, cancellationToken);
        audit.Record(new AuditEntry("user.provision", "user", user.Id.ToString(), user.Username, new { provider = provider.Name, role, email_set = user.Email is not null })
        {
            ActorType = "system",
        });
        return new SsoResult(user, null);
    }

    private async Task<SsoResult> UpdateLinkedAsync(DbSession db, LinkedUser linked, Profile profile, string role, DateTime now, CancellationToken cancellationToken)
    {
        if (!linked.Active)
        {
            return SsoResult.Failed(SsoReasons.UserDisabled);
        }

        var email = linked.Email;
        if (profile.Email is not null && profile.Email != linked.Email
            && !await db.ExecuteScalarAsync<bool>(EmailHeldByOther, new { profile.Email, linked.Id }, cancellationToken))
        {
            email = profile.Email;
        }

        var user = new SsoUser(linked.Id, linked.Username, email, profile.Name ?? linked.Name, role, linked.AuthProvider, profile.AvatarUrl ?? linked.AvatarUrl, linked.CreatedAt);
        await db.ExecuteAsync(UpdateLinked, new { user.Id, user.Name, user.Email, user.AvatarUrl, user.Role, Now = now }, cancellationToken);
        await db.ExecuteAsync(TouchAccount, new { linked.AccountId, Now = now }, cancellationToken);
        if (role != linked.Role)
        {
            // The provider's groups changed the role: sessions issued under the old role end (Gyre does the same).
            await db.ExecuteAsync(EndSessions, new { UserId = linked.Id, Now = now }, cancellationToken);
            await db.ExecuteAsync(RebindDefaults, new { UserId = linked.Id, Role = role }, cancellationToken);
            audit.Record(new AuditEntry("user.role_sync", "user", linked.Id.ToString(), linked.Username, new { from = linked.Role, to = role })
            {
                ActorType = "system",
            });
        }

        return new SsoResult(user, null);
    }

    /// <summary>The profile claims, read along the provider's configured claim paths with Gyre's fallbacks.</summary>
    private sealed record Profile(string? Username, string? Email, string? Name, string? AvatarUrl, IReadOnlyCollection<string> Groups)
    {
        public static Profile From(JsonObject claims, SsoProvider provider)
        {
            var email = ReadEmail(Claim(claims, provider.EmailClaim)) ?? ReadEmail(claims["email"]);
            var username = Usernames.Sanitise(OidcClient.Text(Claim(claims, provider.UsernameClaim)))
                ?? Usernames.Sanitise(OidcClient.Text(claims["preferred_username"]))
                ?? Usernames.Sanitise(OidcClient.Text(claims["login"]))
                ?? Usernames.Sanitise(OidcClient.Text(claims["username"]))
                ?? Usernames.Sanitise(email?.Split('@')[0])
                ?? Usernames.Sanitise(OidcClient.Text(claims["sub"]));
            var name = OidcClient.Text(claims["name"]) is { Length: > 0 and <= 200 } given ? given.Trim() : null;
            var picture = OidcClient.Text(claims["picture"]) ?? OidcClient.Text(claims["avatar_url"]);
            var avatar = picture is { Length: <= 2048 } && Uri.TryCreate(picture, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http" ? picture : null;
            var groups = Claim(claims, provider.RoleClaim) switch
            {
                JsonArray array => array.Select(OidcClient.Text).OfType<string>().ToArray(),
                JsonValue value when OidcClient.Text(value) is { } single => [single],
                _ => Array.Empty<string>(),
            };
            return new Profile(username, email, name, avatar, groups);
        }

        // A claim or a dotted path into nested claims ("realm_access.roles").
        private static JsonNode? Claim(JsonObject claims, string path)
        {
            JsonNode? node = claims;
            foreach (var part in path.Split('.'))
            {
                node = node is JsonObject obj && obj.TryGetPropertyValue(part, out var next) ? next : null;
            }

            return node;
        }

        private static string? ReadEmail(JsonNode? node) =>
            OidcClient.Text(node)?.Trim().ToLower(CultureInfo.InvariantCulture) is { Length: <= 254 } email && EmailShape().IsMatch(email) ? email : null;
    }

    [GeneratedRegex(@"^[^\s@]+@[^\s@]+\.[^\s@]+$")]
    private static partial Regex EmailShape();

    private sealed record LinkedUser
    {
        public Guid AccountId { get; init; }

        public Guid Id { get; init; }

        public string Username { get; init; } = string.Empty;

        public string? Email { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Role { get; init; } = "viewer";

        public bool Active { get; init; }

        public string AuthProvider { get; init; } = "local";

        public string? AvatarUrl { get; init; }

        public DateTime CreatedAt { get; init; }
    }
}
