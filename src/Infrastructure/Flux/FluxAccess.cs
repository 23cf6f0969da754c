using System.Text.Json;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;

namespace Capstan.Infrastructure.Flux;

/// <summary>Flux RBAC actions, ranked: <c>admin</c> ⊇ <c>write</c> ⊇ <c>read</c>.</summary>
public enum FluxAction
{
    Read = 0,
    Write = 1,
    Admin = 2,
}

/// <summary>One rule of a policy: resource types (Kind or plural; empty = all), namespace globs (<c>*</c>, <c>?</c>;
/// empty = all), actions, and clusters (id or name; empty = all).</summary>
public sealed record FluxRule(IReadOnlyList<string> Resources, IReadOnlyList<string> Namespaces, IReadOnlyList<string> Actions, IReadOnlyList<string> Clusters)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
}

/// <summary>An active policy bound to the user: the policy's role, the binding's cluster ('' = every cluster) and the
/// policy's rules.</summary>
public sealed record FluxGrant(Guid PolicyId, string PolicyRole, string BindingCluster, IReadOnlyList<FluxRule> Rules);

/// <summary>The cluster a check is about, matched by id or name.</summary>
public readonly record struct FluxCluster(Guid Id, string Name);

/// <summary>
/// The Flux RBAC evaluator (reference <c>gyre.md</c> §11.2, with seed 001's rule lists): admins pass; anyone else needs
/// an active policy bound to them, whose role is not above theirs, with a rule whose actions cover the action
/// (<c>admin</c> ⊇ <c>write</c> ⊇ <c>read</c>; seed 001's <c>view</c>/<c>edit</c>/<c>delete</c> map onto them), whose resources
/// name the Kind or its plural (Gyre's bug of comparing only Kinds is fixed), whose namespace globs match and whose
/// clusters (and the binding's cluster) include the cluster. Cluster-wide reads (lists, overview, events, version, the
/// live stream) need a rule with no namespace restriction.
/// </summary>
public sealed partial class FluxAccess
{
    private const string Load = """
        SELECT p.id AS policy_id, p.role AS policy_role, b.cluster AS binding_cluster, p.rules::text AS rules
        FROM identity.flux_bindings b
        JOIN identity.flux_policies p ON p.id = b.policy_id
        WHERE b.user_id = @UserId AND p.is_active
        """;

    private readonly Caller _caller;
    private readonly IReadOnlyList<FluxGrant> _grants;

    private FluxAccess(Caller caller, IReadOnlyList<FluxGrant> grants)
    {
        _caller = caller;
        _grants = grants;
    }

    public bool IsAdmin => _caller.IsAdmin;

    /// <summary>The evaluator for <paramref name="caller"/> with the given grants (handler tests build it directly).</summary>
    public static FluxAccess For(Caller caller, IReadOnlyList<FluxGrant> grants) => new(caller, grants);

    /// <summary>Loads the caller's bound, active policies.</summary>
    public static async Task<FluxAccess> LoadAsync(DbSession db, Caller caller, CancellationToken cancellationToken)
    {
        if (caller.IsAdmin)
        {
            return new FluxAccess(caller, []);
        }

        var rows = await db.QueryAsync<GrantRow>(Load, new { caller.UserId }, cancellationToken);
        return new FluxAccess(caller, [.. rows.Select(row => new FluxGrant(row.PolicyId, row.PolicyRole, row.BindingCluster, ParseRules(row.Rules)))]);
    }

    public static IReadOnlyList<FluxRule> ParseRules(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<List<FluxRule>>(json, FluxRule.Json)?
                .Select(rule => new FluxRule(rule.Resources ?? [], rule.Namespaces ?? [], rule.Actions ?? [], rule.Clusters ?? []))
                .ToList() ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    /// <summary>Whether <paramref name="action"/> on a <paramref name="kind"/> in <paramref name="namespace"/> of
    /// <paramref name="cluster"/> is allowed; a null argument is not checked.</summary>
    public bool Allows(FluxAction action, string? kind, string? @namespace, FluxCluster? cluster) =>
        IsAdmin || Rules(cluster).Any(rule => Covers(rule, action) && MatchesResource(rule, kind) && MatchesNamespace(rule, @namespace));

    /// <summary>Whether the caller may read <paramref name="kind"/> (every kind when null) in every namespace of the cluster.</summary>
    public bool AllowsClusterWideRead(string? kind, FluxCluster? cluster) =>
        IsAdmin || Rules(cluster).Any(rule => Covers(rule, FluxAction.Read) && IsUnrestricted(rule.Namespaces)
            && (kind is null ? IsUnrestricted(rule.Resources) : MatchesResource(rule, kind)));

    /// <summary>403 <c>Permission denied</c> unless <see cref="Allows"/>.</summary>
    public void Demand(FluxAction action, string? kind, string? @namespace, FluxCluster? cluster)
    {
        if (!Allows(action, kind, @namespace, cluster))
        {
            throw new ForbiddenException("Permission denied");
        }
    }

    /// <summary>403 unless <see cref="AllowsClusterWideRead"/>, saying a cluster-wide policy is needed.</summary>
    public void DemandClusterWideRead(string? kind, FluxCluster? cluster)
    {
        if (!AllowsClusterWideRead(kind, cluster))
        {
            throw new ForbiddenException("Permission denied: this needs a policy that reads every namespace of the cluster");
        }
    }

    /// <summary>The rank of an action name, or null when it names none (seed 001 and Gyre spellings).</summary>
    public static FluxAction? ParseAction(string? action) => action?.Trim().ToLowerInvariant() switch
    {
        "read" or "view" or "get" or "list" or "watch" => FluxAction.Read,
        "write" or "edit" or "create" or "update" or "patch" or "reconcile" or "suspend" or "resume" or "rollback" => FluxAction.Write,
        "admin" or "delete" or "*" or "all" => FluxAction.Admin,
        _ => null,
    };

    /// <summary>True when a namespace glob is well-formed (Gyre's pattern).</summary>
    public static bool IsValidNamespacePattern(string pattern) => pattern == "*" || NamespacePattern().IsMatch(pattern);

    public static bool GlobMatches(string pattern, string value)
    {
        if (pattern == "*")
        {
            return true;
        }

        var regex = "^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$";
        return Regex.IsMatch(value, regex, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
    }

    private IEnumerable<FluxRule> Rules(FluxCluster? cluster)
    {
        var rank = _caller.Role;
        foreach (var grant in _grants)
        {
            if (!BaseRoles.TryParse(grant.PolicyRole, out var policyRole) || policyRole > rank || !ClusterMatches(grant.BindingCluster, cluster))
            {
                continue;
            }

            foreach (var rule in grant.Rules.Where(rule => rule.Clusters.Count == 0 || rule.Clusters.Any(entry => ClusterMatches(entry, cluster))))
            {
                yield return rule;
            }
        }
    }

    private static bool ClusterMatches(string entry, FluxCluster? cluster) =>
        string.IsNullOrEmpty(entry) || entry == "*" || cluster is not { } target
        || string.Equals(entry, target.Id.ToString(), StringComparison.OrdinalIgnoreCase)
        || string.Equals(entry, target.Name, StringComparison.OrdinalIgnoreCase);

    private static bool Covers(FluxRule rule, FluxAction action) =>
        rule.Actions.Select(ParseAction).Any(granted => granted is { } level && level >= action);

    private static bool MatchesResource(FluxRule rule, string? kind)
    {
        if (kind is null || IsUnrestricted(rule.Resources))
        {
            return true;
        }

        var wanted = FluxResourceTypes.Resolve(kind)?.Kind ?? kind;
        return rule.Resources.Any(resource => (FluxResourceTypes.Resolve(resource)?.Kind ?? resource) == wanted);
    }

    private static bool MatchesNamespace(FluxRule rule, string? @namespace) =>
        @namespace is null || IsUnrestricted(rule.Namespaces) || rule.Namespaces.Any(pattern => GlobMatches(pattern, @namespace));

    private static bool IsUnrestricted(IReadOnlyList<string> entries) => entries.Count == 0 || entries.Contains("*");

    [GeneratedRegex("^[a-z0-9*?][a-z0-9\\-*?]*$")]
    private static partial Regex NamespacePattern();

    private sealed record GrantRow(Guid PolicyId, string PolicyRole, string BindingCluster, string Rules);
}
