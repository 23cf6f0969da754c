using System.Text.RegularExpressions;
using Capstan.Infrastructure.Data;

namespace Capstan.Infrastructure.Security;

/// <summary>Usernames made from outside input (an e-mail's local part, an identity provider's claim): lower case,
/// letters, digits, '.', '_' and '-', starting and ending with a letter or digit (Gyre's sanitising), and unique.</summary>
public static partial class Usernames
{
    public const int MaximumBaseLength = 50;

    private const string Taken = "SELECT username FROM identity.users WHERE username = ANY(@Candidates)";

    /// <summary>The sanitised form of <paramref name="raw"/>, or null when nothing usable is left.</summary>
    public static string? Sanitise(string? raw)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        var cleaned = Invalid().Replace(raw.Trim().ToLowerInvariant(), "_");
        cleaned = Underscores().Replace(cleaned, "_");
        cleaned = cleaned.Trim('_', '.', '-');
        if (cleaned.Length > MaximumBaseLength)
        {
            cleaned = cleaned[..MaximumBaseLength].TrimEnd('_', '.', '-');
        }

        return cleaned.Length == 0 ? null : cleaned;
    }

    /// <summary>The first of <paramref name="candidates"/> nobody has, else the first with a random suffix.</summary>
    public static async Task<string> FirstFreeAsync(DbSession db, IReadOnlyList<string> candidates, CancellationToken cancellationToken)
    {
        var taken = (await db.QueryAsync<string>(Taken, new { Candidates = candidates.ToArray() }, cancellationToken)).ToHashSet(StringComparer.Ordinal);
        return candidates.FirstOrDefault(candidate => !taken.Contains(candidate)) ?? $"{candidates[0]}-{SecretTokens.GenerateHex(4)}";
    }

    /// <summary><paramref name="name"/>, then <c>name-2</c>, <c>name-3</c>, … (registration).</summary>
    public static IReadOnlyList<string> Numbered(string name) => [name, .. Enumerable.Range(2, 98).Select(n => $"{name}-{n}")];

    [GeneratedRegex("[^a-z0-9_.-]")]
    private static partial Regex Invalid();

    [GeneratedRegex("_{2,}")]
    private static partial Regex Underscores();
}
