namespace Capstan.Infrastructure.Security;

public enum AuthMethod
{
    Session,
    Jwt,
    ApiKey,
    Ticket,
}

/// <summary>A permission granted by a custom role, limited to a scope such as <c>{"project_id": "…"}</c>; an empty
/// scope is global.</summary>
public sealed record ScopedGrant(string Permission, IReadOnlyDictionary<string, string> Scope);

/// <summary>Who is calling, as the authentication handler established it: the user, their effective base role (an
/// API key may lower it), how they signed in, and every permission they hold.</summary>
public sealed record Caller(
    Guid UserId,
    string Username,
    string? Email,
    string Name,
    BaseRole Role,
    AuthMethod Method,
    Guid? SessionId,
    Guid? ApiKeyId,
    IReadOnlySet<string> Permissions,
    IReadOnlyList<ScopedGrant> ScopedGrants)
{
    public bool IsAdmin => Role == BaseRole.Admin;

    /// <summary>Holds <paramref name="permission"/> globally (base role or an unscoped custom role).</summary>
    public bool Has(string permission) => Permissions.Contains(permission);

    /// <summary>Holds <paramref name="permission"/> for a resource in <paramref name="scope"/>: globally, or through a
    /// grant whose every key equals the resource's value for it (absent keys are wildcards).</summary>
    public bool Has(string permission, IReadOnlyDictionary<string, string> scope) =>
        Has(permission) || ScopedGrants.Any(grant =>
            grant.Permission == permission
            && grant.Scope.All(entry => scope.TryGetValue(entry.Key, out var value) && string.Equals(value, entry.Value, StringComparison.Ordinal)));

    /// <summary>The teams the caller belongs to: the <c>team_id</c> of each scoped grant (seed 003's scoped custom
    /// roles are how team membership is recorded).</summary>
    public IReadOnlyList<Guid> TeamIds =>
    [
        .. ScopedGrants
            .Select(grant => grant.Scope.TryGetValue("team_id", out var team) && Guid.TryParse(team, out var id) ? id : Guid.Empty)
            .Where(id => id != Guid.Empty)
            .Distinct(),
    ];

    /// <summary>The audit/actor string of seed 003 (<c>user:&lt;uuid&gt;</c>).</summary>
    public string Actor => $"user:{UserId}";
}
