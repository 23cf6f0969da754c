using System.Globalization;
using System.Security.Cryptography;
using Capstan.Infrastructure.Data;

namespace Capstan.Infrastructure.Settings;

/// <summary>
/// KubeOrch's sign-up invite code and its auto-regenerate switch, kept in <c>identity.settings</c> under
/// <c>delivery.inviteCode</c> (a JSON string) and <c>delivery.regenerateInviteAfterSignup</c> (a JSON boolean), where
/// registration reads them. Codes are six digits from a cryptographic generator.
/// </summary>
public static class InviteCodes
{
    public const string CodeKey = "delivery.inviteCode";
    public const string RegenerateKey = "delivery.regenerateInviteAfterSignup";

    private const string Read = "SELECT value #>> '{}' FROM identity.settings WHERE key = @Key";

    private const string Write = """
        INSERT INTO identity.settings (key, value, updated_by, updated_at) VALUES (@Key, CAST(@Value AS jsonb), @By, now())
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at
        """;

    public static string NewCode() => RandomNumberGenerator.GetInt32(0, 1_000_000).ToString("D6", CultureInfo.InvariantCulture);

    public static Task<string?> CodeAsync(DbSession db, CancellationToken cancellationToken) =>
        db.ExecuteScalarAsync<string?>(Read, new { Key = CodeKey }, cancellationToken);

    /// <summary>The current code, made (and stored) when there is none yet.</summary>
    public static async Task<string> EnsureCodeAsync(DbSession db, Guid by, CancellationToken cancellationToken) =>
        await CodeAsync(db, cancellationToken) is { Length: > 0 } code ? code : await ReplaceCodeAsync(db, by, cancellationToken);

    public static async Task<string> ReplaceCodeAsync(DbSession db, Guid by, CancellationToken cancellationToken)
    {
        var code = NewCode();
        await db.ExecuteAsync(Write, new { Key = CodeKey, Value = System.Text.Json.JsonSerializer.Serialize(code), By = by }, cancellationToken);
        return code;
    }

    public static async Task<bool> RegenerateAsync(DbSession db, CancellationToken cancellationToken) =>
        await db.ExecuteScalarAsync<string?>(Read, new { Key = RegenerateKey }, cancellationToken) == "true";

    public static Task SetRegenerateAsync(DbSession db, bool value, Guid by, CancellationToken cancellationToken) =>
        db.ExecuteAsync(Write, new { Key = RegenerateKey, Value = value ? "true" : "false", By = by }, cancellationToken);
}
