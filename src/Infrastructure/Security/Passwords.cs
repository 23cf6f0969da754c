using Microsoft.AspNetCore.Identity;

namespace Capstan.Infrastructure.Security;

/// <summary>Password hashing with ASP.NET Core Identity's PBKDF2 hasher, and the strength rules of Gyre (at least 8
/// characters, 128 at most, with upper and lower case letters, a digit and a symbol).</summary>
public static class Passwords
{
    public const int MinimumLength = 8;
    public const int MaximumLength = 128;

    private static readonly PasswordHasher<object> Hasher = new();
    private static readonly object Subject = new();

    /// <summary>A hash of a random value: verifying against it costs what a real check costs, so an unknown user
    /// answers as slowly as a known one. Computed on first need, not when the class is first touched: the start-up
    /// path only checks a password's strength and must not pay for a hash it does not use (see
    /// <see cref="PasswordTimingWarmUp"/>, which computes it just after ready).</summary>
    private static readonly Lazy<string> DummyHash = new(() => Hasher.HashPassword(Subject, Guid.NewGuid().ToString()));

    public static string Hash(string password) => Hasher.HashPassword(Subject, password);

    public static bool Verify(string? hash, string password)
    {
        var result = Hasher.VerifyHashedPassword(Subject, hash ?? DummyHash.Value, password);
        return hash is not null && result != PasswordVerificationResult.Failed;
    }

    /// <summary>Spends the time of one verification without a user (uniform timing for unknown accounts).</summary>
    public static void VerifyNothing(string password) => Hasher.VerifyHashedPassword(Subject, DummyHash.Value, password);

    /// <summary>Computes the hash unknown users are checked against, if nothing has yet.</summary>
    public static void WarmUp() => _ = DummyHash.Value;

    internal static bool IsWarm => DummyHash.IsValueCreated;

    /// <summary>The first rule the password breaks, or null when it is strong enough.</summary>
    public static string? Weakness(string? password)
    {
        if (string.IsNullOrEmpty(password) || password.Length < MinimumLength)
        {
            return $"Password must be at least {MinimumLength} characters long.";
        }

        if (password.Length > MaximumLength)
        {
            return $"Password must be at most {MaximumLength} characters long.";
        }

        if (!password.Any(char.IsUpper))
        {
            return "Password must contain at least one uppercase letter.";
        }

        if (!password.Any(char.IsLower))
        {
            return "Password must contain at least one lowercase letter.";
        }

        if (!password.Any(char.IsDigit))
        {
            return "Password must contain at least one number.";
        }

        return password.Any(character => !char.IsLetterOrDigit(character) && !char.IsWhiteSpace(character))
            ? null
            : "Password must contain at least one special character.";
    }
}
