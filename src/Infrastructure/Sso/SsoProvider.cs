using System.Text.Json;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Data;

namespace Capstan.Infrastructure.Sso;

/// <summary>The kinds of sign-in provider (Gyre's list). GitHub speaks plain OAuth2 (profile from its user API); the
/// others are OpenID Connect and sign the user in with an ID token. oidc and oauth2-generic need an issuer; Google and
/// GitLab default to their public issuers.</summary>
public static class SsoProviderTypes
{
    public const string Oidc = "oidc";
    public const string GitHub = "oauth2-github";
    public const string Google = "oauth2-google";
    public const string GitLab = "oauth2-gitlab";
    public const string Generic = "oauth2-generic";

    public const string AcceptedValues = "oidc, oauth2-github, oauth2-google, oauth2-gitlab, oauth2-generic";

    public static IReadOnlyList<string> All { get; } = [Oidc, GitHub, Google, GitLab, Generic];

    public static bool IsValid(string? type) => type is not null && All.Contains(type);

    public static bool RequiresIssuer(string? type) => type is Oidc or Generic;

    /// <summary>Whether the provider signs users in with an OpenID Connect ID token (else the profile endpoint).</summary>
    public static bool UsesIdToken(string type) => type != GitHub;

    /// <summary>The icon a login page shows for the type.</summary>
    public static string Icon(string type) => type switch
    {
        GitHub => "github",
        Google => "google",
        GitLab => "gitlab",
        _ => "oidc",
    };
}

/// <summary>One row of <c>identity.auth_providers</c>. The client secret stays an envelope until the moment the code
/// exchange needs it.</summary>
public sealed record SsoProvider
{
    public const string Columns = """
        id, name, type, enabled, client_id, client_secret, issuer_url, authorization_url, token_url, user_info_url, jwks_url,
        auto_provision, default_role, role_mapping::text AS role_mapping, role_claim, username_claim, email_claim, use_pkce,
        scopes, created_at, updated_at
        """;

    private const string ById = $"SELECT {Columns} FROM identity.auth_providers WHERE id = @Id";

    // Seed 002 names providers in its URLs; an id works too. An exact name wins over a case-insensitive one.
    private const string ByKey = $"""
        SELECT {Columns} FROM identity.auth_providers
        WHERE id = @Id OR lower(name) = lower(@Key)
        ORDER BY (id = @Id) DESC, (name = @Key) DESC
        LIMIT 1
        """;

    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string Type { get; init; } = SsoProviderTypes.Oidc;

    public bool Enabled { get; init; }

    public string ClientId { get; init; } = string.Empty;

    public byte[] ClientSecret { get; init; } = [];

    public string? IssuerUrl { get; init; }

    public string? AuthorizationUrl { get; init; }

    public string? TokenUrl { get; init; }

    public string? UserInfoUrl { get; init; }

    public string? JwksUrl { get; init; }

    public bool AutoProvision { get; init; }

    public string DefaultRole { get; init; } = "viewer";

    /// <summary>The role mapping as stored (JSON text) or null.</summary>
    public string? RoleMapping { get; init; }

    public string RoleClaim { get; init; } = "groups";

    public string UsernameClaim { get; init; } = "preferred_username";

    public string EmailClaim { get; init; } = "email";

    public bool UsePkce { get; init; }

    public string Scopes { get; init; } = "openid profile email";

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    /// <summary>The associated data that binds a provider's encrypted client secret to its row.</summary>
    public static string SecretBinding(Guid id) => $"auth_provider:{id}";

    public static Task<SsoProvider?> FindAsync(DbSession db, Guid id, CancellationToken cancellationToken) =>
        db.QuerySingleOrDefaultAsync<SsoProvider>(ById, new { Id = id }, cancellationToken);

    /// <summary>The provider a seed 002 URL names, by id or by name.</summary>
    public static Task<SsoProvider?> FindByKeyAsync(DbSession db, string key, CancellationToken cancellationToken) =>
        db.QuerySingleOrDefaultAsync<SsoProvider>(
            ByKey, new { Id = Guid.TryParse(key, out var id) ? id : Guid.Empty, Key = key.Trim() }, cancellationToken);
}

/// <summary>
/// A provider as the admin routes show it (Gyre's shape): the client secret is write-only and always shows as
/// <c>"***"</c>, the role mapping as an object. Every admin answer goes through here, so the secret cannot leave.
/// </summary>
public sealed record AuthProviderView(
    Guid Id,
    string Name,
    string Type,
    bool Enabled,
    string ClientId,
    string ClientSecretEncrypted,
    string? IssuerUrl,
    string? AuthorizationUrl,
    string? TokenUrl,
    string? UserInfoUrl,
    string? JwksUrl,
    bool AutoProvision,
    string DefaultRole,
    JsonElement? RoleMapping,
    string RoleClaim,
    string UsernameClaim,
    string EmailClaim,
    bool UsePkce,
    string Scopes,
    DateTime CreatedAt,
    DateTime UpdatedAt)
{
    public const string RedactedSecret = "***";

    public static AuthProviderView From(SsoProvider provider) => new(
        provider.Id,
        provider.Name,
        provider.Type,
        provider.Enabled,
        provider.ClientId,
        RedactedSecret,
        provider.IssuerUrl,
        provider.AuthorizationUrl,
        provider.TokenUrl,
        provider.UserInfoUrl,
        provider.JwksUrl,
        provider.AutoProvision,
        provider.DefaultRole,
        provider.RoleMapping is null ? null : JsonDocument.Parse(provider.RoleMapping).RootElement.Clone(),
        provider.RoleClaim,
        provider.UsernameClaim,
        provider.EmailClaim,
        provider.UsePkce,
        provider.Scopes,
        provider.CreatedAt,
        provider.UpdatedAt);
}

/// <summary>The checks both provider routes (create, update) apply to the fields they receive.</summary>
public static partial class SsoProviderRules
{
    public const string UrlMessage = "must be an absolute https URL (http only for localhost)";
    public const string ClaimMessage = "may contain only letters, digits, '_' and '.'";

    /// <summary>An absolute https URL without credentials or fragment; plain http only for localhost, so a local
    /// provider works in development and tests.</summary>
    public static bool IsAllowedUrl(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return true;
        }

        if (value.Length > 2048 || !Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri)
            || uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
        {
            return false;
        }

        return uri.Scheme == Uri.UriSchemeHttps
            || (uri.Scheme == Uri.UriSchemeHttp && uri.Host is "localhost" or "127.0.0.1" or "[::1]");
    }

    /// <summary>A claim name or dotted path to a nested claim (Gyre: <c>^[\w.]+$</c>).</summary>
    public static bool IsClaimPath(string? value) => value is null || (value.Length <= 128 && ClaimPath().IsMatch(value));

    public static bool HasScopes(string? value) => value is null || value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Length > 0;

    /// <summary>Scopes as stored: single spaces between them.</summary>
    public static string NormaliseScopes(string value) =>
        string.Join(' ', value.Split([' ', '\t', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries));

    public static string? NormaliseUrl(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    [GeneratedRegex("^[A-Za-z0-9_.]+$")]
    private static partial Regex ClaimPath();
}
