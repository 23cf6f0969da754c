namespace Capstan.Infrastructure.Security;

/// <summary>The four base roles, ranked: every role holds the permissions of the roles below it.</summary>
public enum BaseRole
{
    Viewer = 0,
    Developer = 1,
    Operator = 2,
    Admin = 3,
}

public static class BaseRoles
{
    /// <summary>The accepted spellings: canonical names in any case, seed 001's <c>editor</c> (= operator) and seed 002's
    /// <c>user</c> (= developer).</summary>
    public static bool TryParse(string? value, out BaseRole role)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case "viewer":
                role = BaseRole.Viewer;
                return true;
            case "developer" or "user":
                role = BaseRole.Developer;
                return true;
            case "operator" or "editor":
                role = BaseRole.Operator;
                return true;
            case "admin":
                role = BaseRole.Admin;
                return true;
            default:
                role = default;
                return false;
        }
    }

    public static bool IsValid(string? value) => TryParse(value, out _);

    public static BaseRole Parse(string value) =>
        TryParse(value, out var role) ? role : throw new ArgumentException($"Unknown role '{value}'", nameof(value));

    /// <summary>The canonical lower-case name stored and returned.</summary>
    public static string Name(this BaseRole role) => role switch
    {
        BaseRole.Viewer => "viewer",
        BaseRole.Developer => "developer",
        BaseRole.Operator => "operator",
        _ => "admin",
    };

    public const string AcceptedValues = "viewer, developer (user), operator (editor), admin";
}
