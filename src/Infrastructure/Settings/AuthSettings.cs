using System.Globalization;
using System.Text.Json;
using Capstan.Infrastructure.Data;
using Microsoft.Extensions.Configuration;

namespace Capstan.Infrastructure.Settings;

/// <summary>One admin setting (seed 000): its API field, its row key, the environment variable that overrides and
/// locks it, and its default.</summary>
public sealed record SettingDefinition(string Field, string Key, string EnvironmentVariable, JsonElement Default);

/// <summary>A setting's effective value and whether an environment variable decides it.</summary>
public sealed record SettingValue(JsonElement Value, bool OverriddenByEnv);

/// <summary>
/// The sign-in and audit settings: precedence is environment variable (which also locks the field), then the
/// <c>identity.settings</c> row, then the default. Read by login, registration, SSO provisioning, the settings routes
/// and audit retention.
/// </summary>
public sealed class AuthSettings(IConfiguration configuration)
{
    public const string LocalLoginEnabled = "localLoginEnabled";
    public const string AllowSignup = "allowSignup";
    public const string DomainAllowlist = "domainAllowlist";
    public const string AuditRetentionDays = "auditRetentionDays";

    private const string Read = "SELECT key, value::text AS value FROM identity.settings WHERE key = ANY(@Keys)";

    public static IReadOnlyList<SettingDefinition> Definitions { get; } =
    [
        new(LocalLoginEnabled, "auth.localLoginEnabled", "GYRE_AUTH_LOCAL_LOGIN_ENABLED", JsonSerializer.SerializeToElement(true)),
        new(AllowSignup, "auth.allowSignup", "GYRE_AUTH_ALLOW_SIGNUP", JsonSerializer.SerializeToElement(false)),
        new(DomainAllowlist, "auth.domainAllowlist", "GYRE_AUTH_DOMAIN_ALLOWLIST", JsonSerializer.SerializeToElement(Array.Empty<string>())),
        new(AuditRetentionDays, "audit.retentionDays", "GYRE_AUDIT_LOG_RETENTION_DAYS", JsonSerializer.SerializeToElement(90)),
    ];

    public async Task<IReadOnlyDictionary<string, SettingValue>> ReadAllAsync(DbSession session, CancellationToken cancellationToken)
    {
        var rows = await session.QueryAsync<(string Key, string Value)>(Read, new { Keys = Definitions.Select(d => d.Key).ToArray() }, cancellationToken);
        var stored = rows.ToDictionary(row => row.Key, row => JsonDocument.Parse(row.Value).RootElement.Clone());
        var values = new Dictionary<string, SettingValue>(StringComparer.Ordinal);
        foreach (var definition in Definitions)
        {
            values[definition.Field] = EnvironmentValue(definition) is { } fromEnv
                ? new SettingValue(fromEnv, true)
                : new SettingValue(stored.TryGetValue(definition.Key, out var value) ? value : definition.Default, false);
        }

        return values;
    }

    public async Task<AuthPolicy> ReadPolicyAsync(DbSession session, CancellationToken cancellationToken)
    {
        var values = await ReadAllAsync(session, cancellationToken);
        return new AuthPolicy(
            values[LocalLoginEnabled].Value.GetBoolean(),
            values[AllowSignup].Value.GetBoolean(),
            [.. values[DomainAllowlist].Value.EnumerateArray().Select(item => item.GetString()!)],
            values[AuditRetentionDays].Value.GetInt32());
    }

    /// <summary>The value an environment variable sets, or null when it is unset or empty.</summary>
    public JsonElement? EnvironmentValue(SettingDefinition definition)
    {
        var raw = configuration[definition.EnvironmentVariable];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        return definition.Field switch
        {
            DomainAllowlist => JsonSerializer.SerializeToElement(NormaliseDomains(raw.Split(','))),
            AuditRetentionDays when int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var days) =>
                JsonSerializer.SerializeToElement(Math.Clamp(days, 1, 3650)),
            AuditRetentionDays => definition.Default,
            _ => JsonSerializer.SerializeToElement(raw.Trim().Equals("true", StringComparison.OrdinalIgnoreCase) || raw.Trim() == "1"),
        };
    }

    /// <summary>Trimmed, lower-cased, without empties or duplicates.</summary>
    public static string[] NormaliseDomains(IEnumerable<string> domains) =>
        [.. domains.Select(domain => domain.Trim().ToLowerInvariant()).Where(domain => domain.Length > 0).Distinct(StringComparer.Ordinal)];
}

/// <summary>The settings as the sign-in paths use them.</summary>
public sealed record AuthPolicy(bool LocalLoginEnabled, bool AllowSignup, IReadOnlyList<string> DomainAllowlist, int AuditRetentionDays)
{
    /// <summary>Whether an e-mail's domain may sign up (an empty allowlist allows every domain).</summary>
    public bool AllowsDomainOf(string? email)
    {
        if (DomainAllowlist.Count == 0)
        {
            return true;
        }

        var at = email?.LastIndexOf('@') ?? -1;
        return at > 0 && DomainAllowlist.Contains(email![(at + 1)..].ToLowerInvariant());
    }
}
