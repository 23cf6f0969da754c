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

/// <summary>A value checked for a setting: its stored (normalised) form, or why it was refused.</summary>
public sealed record SettingCheck(JsonElement? Value, string? Error)
{
    public static SettingCheck Valid(JsonElement value) => new(value, null);

    public static SettingCheck Invalid(string error) => new(null, error);
}

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

    public const int MinimumRetentionDays = 1;
    public const int MaximumRetentionDays = 3650;

    private const string Read = "SELECT key, value::text AS value FROM identity.settings WHERE key = ANY(@Keys)";

    private const string Upsert = """
        INSERT INTO identity.settings (key, value, updated_by, updated_at)
        VALUES (@Key, CAST(@Value AS jsonb), @UpdatedBy, @Now)
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at
        """;

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

    /// <summary>The setting an API field names, or null for an unknown field.</summary>
    public static SettingDefinition? Find(string field) => Definitions.FirstOrDefault(definition => definition.Field == field);

    /// <summary>Checks a value sent for a setting as Gyre's PATCH does (type, then range) and returns the form it is
    /// stored in: domains trimmed, lower-cased, deduplicated; retention days floored.</summary>
    public static SettingCheck Check(SettingDefinition definition, JsonElement value)
    {
        switch (definition.Field)
        {
            case DomainAllowlist:
                if (value.ValueKind != JsonValueKind.Array)
                {
                    return SettingCheck.Invalid($"{definition.Field} must be an array of strings");
                }

                if (value.EnumerateArray().Any(item => item.ValueKind != JsonValueKind.String))
                {
                    return SettingCheck.Invalid($"{definition.Field} entries must be strings");
                }

                return SettingCheck.Valid(JsonSerializer.SerializeToElement(NormaliseDomains(value.EnumerateArray().Select(item => item.GetString()!))));
            case AuditRetentionDays:
                if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || !double.IsFinite(number))
                {
                    return SettingCheck.Invalid($"{definition.Field} must be a finite number");
                }

                var days = Math.Floor(number);
                return days is < MinimumRetentionDays or > MaximumRetentionDays
                    ? SettingCheck.Invalid(string.Create(CultureInfo.InvariantCulture, $"{definition.Field} must be between {MinimumRetentionDays} and {MaximumRetentionDays}"))
                    : SettingCheck.Valid(JsonSerializer.SerializeToElement((int)days));
            default:
                return value.ValueKind is JsonValueKind.True or JsonValueKind.False
                    ? SettingCheck.Valid(value.Clone())
                    : SettingCheck.Invalid($"{definition.Field} must be a boolean");
        }
    }

    /// <summary>Stores checked values (see <see cref="Check"/>) in the session's transaction.</summary>
    public static async Task WriteAsync(
        DbSession session, IEnumerable<(SettingDefinition Definition, JsonElement Value)> values, Guid? updatedBy, DateTime now, CancellationToken cancellationToken)
    {
        foreach (var (definition, value) in values)
        {
            await session.ExecuteAsync(Upsert, new { definition.Key, Value = value.GetRawText(), UpdatedBy = updatedBy, Now = now }, cancellationToken);
        }
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
                JsonSerializer.SerializeToElement(Math.Clamp(days, MinimumRetentionDays, MaximumRetentionDays)),
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
