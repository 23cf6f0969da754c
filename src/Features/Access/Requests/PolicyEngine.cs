using System.Text.Json;
using Capstan.Features.Access.Workflows;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;

namespace Capstan.Features.Access.Requests;

/// <summary>What a request looks like to the policy rules (secrets-bridge §7): only the keys that are set.</summary>
internal sealed record PolicyScope(string? ProjectId, string? Environment, string? EnvironmentKind, string Operation, string ProviderType, string SecretRef)
{
    public IReadOnlyDictionary<string, string> ToDictionary()
    {
        var scope = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["operation"] = Operation,
            ["provider_type"] = ProviderType,
            ["secret_ref_prefix"] = SecretRef,
        };
        Add(scope, "project_id", ProjectId);
        Add(scope, "environment", Environment);
        Add(scope, "environment_kind", EnvironmentKind);
        return scope;
    }

    private static void Add(Dictionary<string, string> scope, string key, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            scope[key] = value;
        }
    }
}

/// <summary>The outcome: the workflow to follow, the rule that chose it (none for the default), whether a direct reveal
/// is allowed, and whether the PROD invariant had to veto the rule's permission.</summary>
internal sealed record PolicyDecision(WorkflowRow Workflow, Guid? PolicyId, string? PolicyName, bool DirectRevealAllowed, bool InvariantViolated);

/// <summary>
/// Policy evaluation (secrets-bridge §7): enabled rules by priority (highest first), oldest first on ties; a rule
/// matches when every selector key is present in the scope with an equal string value, except
/// <c>secret_ref_prefix</c>, which matches a prefix of the secret ref; an empty selector matches everything. The first
/// matching rule whose workflow is enabled wins; otherwise the enabled default workflow. With neither, the request is
/// refused with a 400 (the upstream answered 500). PROD invariant: a rule's <c>direct_reveal_allowed</c> never survives
/// on a prod environment.
/// </summary>
internal static class PolicyEngine
{
    public static readonly string[] SelectorKeys = ["project_id", "environment", "environment_kind", "operation", "provider_type", "secret_ref_prefix"];

    public const string NoWorkflow = "no policy matched and no default workflow exists";

    // Rules whose workflow is disabled are passed over, as upstream does.
    private const string Rules = """
        SELECT p.id, p.name, p.selector::text AS selector, p.direct_reveal_allowed, p.workflow_id
        FROM access.policies p JOIN access.workflows w ON w.id = p.workflow_id
        WHERE p.enabled AND w.enabled
        ORDER BY p.priority DESC, p.created_at, p.id
        """;

    private const string WorkflowById = $"SELECT {WorkflowRow.Columns} FROM access.workflows WHERE id = @Id";

    private const string DefaultWorkflow = $"SELECT {WorkflowRow.Columns} FROM access.workflows WHERE is_default AND enabled";

    public static bool Matches(string selectorJson, IReadOnlyDictionary<string, string> scope)
    {
        using var selector = JsonDocument.Parse(selectorJson);
        if (selector.RootElement.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        foreach (var entry in selector.RootElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String || !scope.TryGetValue(entry.Name, out var actual))
            {
                return false;
            }

            var expected = entry.Value.GetString()!;
            var matches = entry.Name == "secret_ref_prefix"
                ? expected.Length > 0 && actual.Length > 0 && actual.StartsWith(expected, StringComparison.Ordinal)
                : string.Equals(expected, actual, StringComparison.Ordinal);
            if (!matches)
            {
                return false;
            }
        }

        return true;
    }

    public static async Task<PolicyDecision> ResolveAsync(DbSession db, PolicyScope scope, CancellationToken cancellationToken)
    {
        var values = scope.ToDictionary();
        foreach (var rule in await db.QueryAsync<RuleRow>(Rules, null, cancellationToken))
        {
            if (Matches(rule.Selector, values))
            {
                var workflow = await db.QuerySingleAsync<WorkflowRow>(WorkflowById, new { Id = rule.WorkflowId }, cancellationToken);
                var prod = scope.EnvironmentKind == "prod";
                return new PolicyDecision(workflow, rule.Id, rule.Name, rule.DirectRevealAllowed && !prod, rule.DirectRevealAllowed && prod);
            }
        }

        var fallback = await db.QuerySingleOrDefaultAsync<WorkflowRow>(DefaultWorkflow, null, cancellationToken)
            ?? throw new BadRequestException(NoWorkflow);
        return new PolicyDecision(fallback, null, null, false, false);
    }

    private sealed class RuleRow
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Selector { get; init; } = "{}";

        public bool DirectRevealAllowed { get; init; }

        public Guid WorkflowId { get; init; }
    }
}
