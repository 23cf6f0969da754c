using Capstan.Features.Identity;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Identity.FluxRbac;

/// <summary>Flux RBAC policies and bindings through the pipeline: both request shapes normalised, clusters resolved by
/// id or name, the defaults listed first with their bindings, and the conflicts and unknowns a binding can meet.</summary>
public sealed class FluxRbacHandlerTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    private const string ViewerRead = "00000000-0000-0000-0000-000000000001";
    private const string EditorWrite = "00000000-0000-0000-0000-000000000003";

    private async Task<Guid> ClusterAsync(string name)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO clusters.clusters (id, name, server, auth_type, credentials) VALUES (@Id, @Name, 'https://k8s.example.test', 'token', '\\x00'::bytea)",
            new { Id = id, Name = name });
        return id;
    }

    private Task<List<string>> AuditAsync(string action) =>
        Fixture.QueryAsync<string>(
            "SELECT actor_id || ' ' || resource_id || ' ' || resource_name FROM identity.audit_log WHERE action = @Action ORDER BY occurred_at", new { Action = action });

    private static CreateFluxPolicy.Command Rules(string name, params CreateFluxPolicy.RuleInput[] rules) => new() { Name = name, Rules = rules };

    [Fact]
    public async Task A_policy_from_rules_is_normalised_and_stored_with_clusters_resolved()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var prod = await ClusterAsync("Prod");

        var policy = await Fixture.SendAsAsync(admin, Rules(
            " developer-policy ",
            new CreateFluxPolicy.RuleInput(["kustomizations", "HelmRelease", "Kustomization"], ["default", "staging-*", "default"], ["view", "edit", "get"], ["prod", "*"])) with
        {
            Description = " For developers ",
            Role = "Developer",
        });

        (policy.Name, policy.Description, policy.Role, policy.IsActive, policy.IsSystem).ShouldBe(("developer-policy", "For developers", "developer", true, false));
        var rule = policy.Rules.ShouldHaveSingleItem();
        rule.Resources.ShouldBe(["Kustomization", "HelmRelease"]);
        rule.Namespaces.ShouldBe(["default", "staging-*"]);
        rule.Actions.ShouldBe(["read", "write"]);
        rule.Clusters.ShouldBe([prod.ToString(), "*"]);
        (policy.Action, policy.ResourceType).ShouldBe(((string?)null, (string?)null));
        policy.Bindings.ShouldBeEmpty();
        (await Fixture.QueryAsync<(string Role, string Rules)>("SELECT role, rules::text FROM identity.flux_policies WHERE id = @Id", new { policy.Id }))
            .ShouldHaveSingleItem().Rules.ShouldContain(prod.ToString());
        (await AuditAsync("rbac.policy.create")).ShouldBe([$"{admin.Id} {policy.Id} developer-policy"]);
    }

    [Fact]
    public async Task A_policy_from_gyres_single_rule_reads_back_in_both_shapes()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var prod = await ClusterAsync("prod");

        var policy = await Fixture.SendAsAsync(admin, new CreateFluxPolicy.Command
        {
            Name = "apps writers",
            Role = "editor",
            Action = "update",
            ResourceType = "gitrepositories",
            NamespacePattern = "apps",
            ClusterId = prod.ToString(),
            IsActive = false,
        });

        (policy.Role, policy.Action, policy.ResourceType, policy.NamespacePattern, policy.ClusterId, policy.IsActive)
            .ShouldBe(("operator", "write", "GitRepository", "apps", prod.ToString(), false));
        policy.Description.ShouldBe(string.Empty);
    }

    [Fact]
    public async Task A_taken_name_in_any_case_is_a_conflict()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var error = await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new CreateFluxPolicy.Command { Name = "VIEWER: read all resources", Action = "read" }));

        error.Message.ShouldBe("A policy named 'VIEWER: read all resources' already exists");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.flux_policies")).ShouldBe(3);
    }

    [Fact]
    public async Task An_unknown_cluster_is_refused_naming_its_rule_and_nothing_is_stored()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        await ClusterAsync("prod");

        var error = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, Rules(
            "two rules", new CreateFluxPolicy.RuleInput(null, null, ["read"], ["prod"]), new CreateFluxPolicy.RuleInput(null, null, ["read"], ["nowhere"]))));

        error.Details!["rules[1].clusters"].ShouldBe(["Unknown cluster 'nowhere'"]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.flux_policies")).ShouldBe(3);
    }

    [Fact]
    public async Task Invalid_policies_are_refused_and_store_nothing()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var read = new CreateFluxPolicy.RuleInput(null, null, ["read"], null);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, Rules("ab", read)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, Rules(new string('n', 101), read)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, Rules("abc") with { Description = new string('d', 501) }));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateFluxPolicy.Command { Name = "abc" }));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateFluxPolicy.Command { Name = "abc", Role = "king", Action = "read" }));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, Rules("abc", [.. Enumerable.Repeat(read, 51)])));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, Rules("abc", new CreateFluxPolicy.RuleInput(["kustomizations"], null, [], null))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, Rules("abc", new CreateFluxPolicy.RuleInput(null, null, ["fly"], null))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, Rules("abc", new CreateFluxPolicy.RuleInput(["pods"], null, ["read"], null))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, Rules("abc", new CreateFluxPolicy.RuleInput(null, ["Bad_NS"], ["read"], null))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, Rules("abc", new CreateFluxPolicy.RuleInput(null, null, ["read"], [""]))));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.flux_policies")).ShouldBe(3);
    }

    [Fact]
    public async Task The_list_puts_the_defaults_first_then_by_name_with_their_bindings()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var reader = await Fixture.CreateUserAsync(BaseRole.Viewer, "reader");
        var other = await Fixture.CreateUserAsync(BaseRole.Viewer, "other");
        await Fixture.SendAsAsync(admin, new CreateFluxPolicy.Command { Name = "Zeta readers", Action = "read" });
        await Fixture.SendAsAsync(admin, new CreateFluxPolicy.Command { Name = "Alpha readers", Action = "read", NamespacePattern = "apps" });
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.flux_bindings (id, user_id, policy_id, cluster, created_at) VALUES (@Id, @User, @Policy, '', now() - interval '1 hour')",
            new { Id = Guid.CreateVersion7(), User = other.Id, Policy = Guid.Parse(ViewerRead) });
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.flux_bindings (id, user_id, policy_id, cluster, created_at) VALUES (@Id, @User, @Policy, 'c1', now())",
            new { Id = Guid.CreateVersion7(), User = reader.Id, Policy = Guid.Parse(ViewerRead) });

        var list = await Fixture.SendAsAsync(admin, new ListFluxPolicies.Query());

        list.Total.ShouldBe(5);
        list.Policies.Select(policy => policy.Name).ShouldBe(
            ["Editor: Read All Resources", "Editor: Write All Resources", "Viewer: Read All Resources", "Alpha readers", "Zeta readers"]);
        var viewerRead = list.Policies[2];
        (viewerRead.IsSystem, viewerRead.Role, viewerRead.Action, viewerRead.NamespacePattern).ShouldBe((true, "viewer", "read", (string?)null));
        viewerRead.Bindings.Select(binding => $"{binding.Username}@{binding.Cluster}").ShouldBe(["other@", "reader@c1"]);
        list.Policies[3].NamespacePattern.ShouldBe("apps");
        list.Policies[4].Bindings.ShouldBeEmpty();
    }

    [Fact]
    public async Task A_binding_on_a_cluster_by_name_and_one_everywhere_are_stored_and_audited()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync(BaseRole.Operator);
        var prod = await ClusterAsync("Prod");

        var onProd = await Fixture.SendAsAsync(admin, new CreateFluxBinding.Command(user.Id.ToString(), EditorWrite, " prod "));
        var everywhere = await Fixture.SendAsAsync(admin, new CreateFluxBinding.Command(user.Id.ToString(), EditorWrite, "*"));

        (onProd.UserId, onProd.PolicyId, onProd.Cluster, onProd.ClusterName).ShouldBe((user.Id, Guid.Parse(EditorWrite), prod.ToString(), "Prod"));
        (everywhere.Cluster, everywhere.ClusterName).ShouldBe((string.Empty, (string?)null));
        (await Fixture.QueryAsync<(Guid Id, string Cluster, Guid CreatedBy)>("SELECT id, cluster, created_by FROM identity.flux_bindings WHERE user_id = @Id ORDER BY created_at", new { user.Id }))
            .ShouldBe([(onProd.Id, prod.ToString(), admin.Id), (everywhere.Id, string.Empty, admin.Id)]);
        (await AuditAsync("rbac.binding.create")).ShouldBe([$"{admin.Id} {onProd.Id} Editor: Write All Resources", $"{admin.Id} {everywhere.Id} Editor: Write All Resources"]);
    }

    [Fact]
    public async Task The_same_binding_again_is_a_conflict_whether_the_cluster_is_named_or_given_by_id()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync(BaseRole.Operator);
        var prod = await ClusterAsync("prod");
        await Fixture.SendAsAsync(admin, new CreateFluxBinding.Command(user.Id.ToString(), EditorWrite, "prod"));
        await Fixture.SendAsAsync(admin, new CreateFluxBinding.Command(user.Id.ToString(), EditorWrite, null));

        var byId = await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new CreateFluxBinding.Command(user.Id.ToString(), EditorWrite, prod.ToString())));
        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new CreateFluxBinding.Command(user.Id.ToString(), EditorWrite, "")));

        byId.Message.ShouldBe($"'Editor: Write All Resources' is already bound to {user.Username} on prod");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.flux_bindings")).ShouldBe(2);
    }

    [Fact]
    public async Task A_policy_above_the_users_role_cannot_be_bound()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var error = await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(admin, new CreateFluxBinding.Command(viewer.Id.ToString(), EditorWrite, null)));

        error.Message.ShouldBe($"The policy applies to operators and above; {viewer.Username} is a viewer");
        (await Fixture.SendAsAsync(admin, new CreateFluxBinding.Command(viewer.Id.ToString(), ViewerRead, null))).Cluster.ShouldBe(string.Empty);
    }

    [Fact]
    public async Task Unknown_users_policies_and_clusters_are_not_found_and_bad_ids_invalid()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync(BaseRole.Operator);

        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new CreateFluxBinding.Command(Guid.NewGuid().ToString(), EditorWrite, null)))).Message.ShouldBe("User not found");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new CreateFluxBinding.Command(user.Id.ToString(), Guid.NewGuid().ToString(), null)))).Message.ShouldBe("Policy not found");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new CreateFluxBinding.Command(user.Id.ToString(), EditorWrite, "nowhere")))).Message.ShouldBe("Cluster 'nowhere' not found");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateFluxBinding.Command("not-a-uuid", EditorWrite, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateFluxBinding.Command(user.Id.ToString(), null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateFluxBinding.Command(user.Id.ToString(), EditorWrite, new string('c', 101))));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.flux_bindings")).ShouldBe(0);
    }
}
