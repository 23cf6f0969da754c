using Capstan.Infrastructure.Flux;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Infrastructure;

/// <summary>The Flux RBAC evaluator, case by case (reference gyre.md §11.2 plus seed 001's rule lists).</summary>
public sealed class FluxAccessTests
{
    private static readonly FluxCluster Prod = new(Guid.Parse("0195e6a2-1111-7000-8000-000000000001"), "prod");
    private static readonly FluxCluster Dev = new(Guid.Parse("0195e6a2-2222-7000-8000-000000000002"), "dev");

    [Fact]
    public void Admins_pass_without_any_policy()
    {
        var access = FluxAccess.For(Caller(BaseRole.Admin), []);

        access.Allows(FluxAction.Admin, "Kustomization", "flux-system", Prod).ShouldBeTrue();
        access.AllowsClusterWideRead(null, Prod).ShouldBeTrue();
    }

    [Fact]
    public void Nobody_else_passes_without_a_bound_policy()
    {
        var access = FluxAccess.For(Caller(BaseRole.Operator), []);

        access.Allows(FluxAction.Read, "Kustomization", "apps", Prod).ShouldBeFalse();
        Should.Throw<Capstan.Infrastructure.Errors.ForbiddenException>(() => access.Demand(FluxAction.Read, "Kustomization", "apps", Prod));
    }

    [Theory]
    [InlineData("read", FluxAction.Read, true)]
    [InlineData("read", FluxAction.Write, false)]
    [InlineData("write", FluxAction.Read, true)]
    [InlineData("write", FluxAction.Write, true)]
    [InlineData("write", FluxAction.Admin, false)]
    [InlineData("admin", FluxAction.Admin, true)]
    [InlineData("admin", FluxAction.Read, true)]
    [InlineData("view", FluxAction.Read, true)]
    [InlineData("edit", FluxAction.Write, true)]
    [InlineData("delete", FluxAction.Admin, true)]
    [InlineData("nonsense", FluxAction.Read, false)]
    public void Actions_form_a_hierarchy(string granted, FluxAction wanted, bool allowed)
    {
        var access = FluxAccess.For(Caller(BaseRole.Operator), [Grant(Rule(actions: [granted]))]);

        access.Allows(wanted, "HelmRelease", "apps", Prod).ShouldBe(allowed);
    }

    [Theory]
    [InlineData("Kustomization", "Kustomization", true)]
    [InlineData("kustomizations", "Kustomization", true)]
    [InlineData("Kustomization", "kustomizations", true)]
    [InlineData("KUSTOMIZATIONS", "Kustomization", true)]
    [InlineData("helmreleases", "Kustomization", false)]
    [InlineData("*", "GitRepository", true)]
    public void Resources_match_by_kind_or_plural(string resource, string kind, bool allowed)
    {
        var access = FluxAccess.For(Caller(BaseRole.Viewer), [Grant(Rule(resources: [resource]))]);

        access.Allows(FluxAction.Read, kind, "apps", Prod).ShouldBe(allowed);
    }

    [Theory]
    [InlineData("apps", "apps", true)]
    [InlineData("team-*", "team-a", true)]
    [InlineData("team-*", "team", false)]
    [InlineData("stag?", "stage", true)]
    [InlineData("stag?", "staging", false)]
    [InlineData("*", "anything", true)]
    [InlineData("apps", "apps2", false)]
    public void Namespaces_match_by_glob(string pattern, string ns, bool allowed)
    {
        var access = FluxAccess.For(Caller(BaseRole.Viewer), [Grant(Rule(namespaces: [pattern]))]);

        access.Allows(FluxAction.Read, "Kustomization", ns, Prod).ShouldBe(allowed);
    }

    [Fact]
    public void Clusters_of_the_rule_and_of_the_binding_both_restrict()
    {
        var byRule = FluxAccess.For(Caller(BaseRole.Viewer), [Grant(Rule(clusters: ["prod"]))]);
        var byRuleId = FluxAccess.For(Caller(BaseRole.Viewer), [Grant(Rule(clusters: [Dev.Id.ToString()]))]);
        var byBinding = FluxAccess.For(Caller(BaseRole.Viewer), [Grant(Rule(), cluster: Prod.Id.ToString())]);

        byRule.Allows(FluxAction.Read, "Kustomization", "apps", Prod).ShouldBeTrue();
        byRule.Allows(FluxAction.Read, "Kustomization", "apps", Dev).ShouldBeFalse();
        byRuleId.Allows(FluxAction.Read, "Kustomization", "apps", Dev).ShouldBeTrue();
        byBinding.Allows(FluxAction.Read, "Kustomization", "apps", Prod).ShouldBeTrue();
        byBinding.Allows(FluxAction.Read, "Kustomization", "apps", Dev).ShouldBeFalse();
    }

    [Fact]
    public void A_policy_for_a_higher_role_does_not_apply()
    {
        var access = FluxAccess.For(Caller(BaseRole.Viewer), [Grant(Rule(actions: ["write"]), role: "operator")]);

        access.Allows(FluxAction.Read, "Kustomization", "apps", Prod).ShouldBeFalse();
    }

    [Fact]
    public void Cluster_wide_reads_need_a_rule_without_namespace_limits()
    {
        var scoped = FluxAccess.For(Caller(BaseRole.Viewer), [Grant(Rule(namespaces: ["apps"]))]);
        var kindOnly = FluxAccess.For(Caller(BaseRole.Viewer), [Grant(Rule(resources: ["helmreleases"]))]);
        var everything = FluxAccess.For(Caller(BaseRole.Viewer), [Grant(Rule())]);

        scoped.AllowsClusterWideRead("Kustomization", Prod).ShouldBeFalse();
        kindOnly.AllowsClusterWideRead("HelmRelease", Prod).ShouldBeTrue();
        kindOnly.AllowsClusterWideRead("Kustomization", Prod).ShouldBeFalse();
        kindOnly.AllowsClusterWideRead(null, Prod).ShouldBeFalse();
        everything.AllowsClusterWideRead(null, Prod).ShouldBeTrue();
    }

    [Fact]
    public void Rules_stored_as_json_are_read_back()
    {
        var rules = FluxAccess.ParseRules("""[{"resources":["Kustomization"],"namespaces":["apps"],"actions":["write"],"clusters":[]}]""");

        rules.Single().Resources.ShouldBe(["Kustomization"]);
        FluxAccess.ParseRules("not json").ShouldBeEmpty();
    }

    private static Caller Caller(BaseRole role) => new TestUser(Guid.NewGuid(), "u", "u@example.test", "x", role).AsCaller();

    private static FluxGrant Grant(FluxRule rule, string role = "viewer", string cluster = "") => new(Guid.NewGuid(), role, cluster, [rule]);

    private static FluxRule Rule(string[]? resources = null, string[]? namespaces = null, string[]? actions = null, string[]? clusters = null) =>
        new(resources ?? [], namespaces ?? [], actions ?? ["read"], clusters ?? []);
}
