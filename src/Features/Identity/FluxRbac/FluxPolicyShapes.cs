using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Flux;

namespace Capstan.Features.Identity;

/// <summary>A binding of a policy to a user, as the policy list shows it.</summary>
public sealed record FluxBindingView(Guid Id, Guid UserId, string Username, string Cluster, DateTime CreatedAt);

/// <summary>
/// A Flux RBAC policy in both shapes clients read: seed 001's <c>rules</c> list, and Gyre's single-rule fields
/// (<c>action</c>, <c>resourceType</c>, <c>namespacePattern</c>, <c>clusterId</c>), filled when the policy is one simple
/// rule and null otherwise.
/// </summary>
public sealed record FluxPolicyView(
    Guid Id,
    string Name,
    string Description,
    string Role,
    IReadOnlyList<FluxRule> Rules,
    string? Action,
    string? ResourceType,
    string? NamespacePattern,
    string? ClusterId,
    bool IsActive,
    bool IsSystem,
    IReadOnlyList<FluxBindingView> Bindings,
    DateTime CreatedAt,
    DateTime UpdatedAt);

internal static class FluxPolicyShapes
{
    public const string Tag = "Flux RBAC";

    private const string Policies = """
        SELECT id, name, description, role, rules::text AS rules, is_active, is_system, created_at, updated_at
        FROM identity.flux_policies
        WHERE (@Id::uuid IS NULL OR id = @Id)
        ORDER BY is_system DESC, name
        """;

    private const string Bindings = """
        SELECT b.id, b.policy_id, b.user_id, u.username, b.cluster, b.created_at
        FROM identity.flux_bindings b JOIN identity.users u ON u.id = b.user_id
        WHERE (@Id::uuid IS NULL OR b.policy_id = @Id)
        ORDER BY b.created_at, b.id
        """;

    public static async Task<List<FluxPolicyView>> LoadAsync(DbSession db, Guid? id, CancellationToken cancellationToken)
    {
        var policies = await db.QueryAsync<PolicyRow>(Policies, new { Id = id }, cancellationToken);
        var bindings = (await db.QueryAsync<BindingRow>(Bindings, new { Id = id }, cancellationToken)).ToLookup(binding => binding.PolicyId);
        return [.. policies.Select(policy =>
        {
            var rules = FluxAccess.ParseRules(policy.Rules);
            var single = rules is [{ Actions.Count: 1, Resources.Count: <= 1, Namespaces.Count: <= 1, Clusters.Count: <= 1 } only] ? only : null;
            return new FluxPolicyView(
                policy.Id,
                policy.Name,
                policy.Description,
                policy.Role,
                rules,
                single?.Actions[0],
                single?.Resources.FirstOrDefault(),
                single?.Namespaces.FirstOrDefault(),
                single?.Clusters.FirstOrDefault(),
                policy.IsActive,
                policy.IsSystem,
                [.. bindings[policy.Id].Select(binding => new FluxBindingView(binding.Id, binding.UserId, binding.Username, binding.Cluster, binding.CreatedAt))],
                policy.CreatedAt,
                policy.UpdatedAt);
        })];
    }

    private sealed record PolicyRow(Guid Id, string Name, string Description, string Role, string Rules, bool IsActive, bool IsSystem, DateTime CreatedAt, DateTime UpdatedAt);

    private sealed record BindingRow(Guid Id, Guid PolicyId, Guid UserId, string Username, string Cluster, DateTime CreatedAt);
}
