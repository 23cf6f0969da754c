using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Features.Tests.GitOps;

/// <summary>Base of the Flux slice handler tests: the gitops database, a fake API server per test class (reset to the
/// seeded Flux objects before every test), callers bound to Flux policies, and the rows the slices write.</summary>
[Collection(GitOpsHandlerCollection.Name)]
public abstract class FluxSliceHandlerTest(GitOpsHandlerFixture fixture, FakeKubernetesFixture fake)
    : HandlerTest<GitOpsHandlerFixture>(fixture), IClassFixture<FakeKubernetesFixture>
{
    /// <summary>Read every kind in every namespace (a viewer may hold it).</summary>
    protected const string ReadAll = """[{"resources":[],"namespaces":[],"actions":["read"],"clusters":[]}]""";

    /// <summary>Write every kind in every namespace (an operator may hold it).</summary>
    protected const string WriteAll = """[{"resources":[],"namespaces":[],"actions":["write"],"clusters":[]}]""";

    /// <summary>Admin (delete) on every kind in every namespace.</summary>
    protected const string AdminAll = """[{"resources":[],"namespaces":[],"actions":["admin"],"clusters":[]}]""";

    protected FakeKubernetesApi Api => fake.Api;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Api.Reset();
    }

    /// <summary>The fake cluster as a platform cluster (everyone's default).</summary>
    protected Task<Guid> RegisterAsync(string name = "prod") => Fixture.RegisterClusterAsync(Api, name);

    /// <summary>A user of <paramref name="role"/> bound to one policy of <paramref name="policyRole"/> with
    /// <paramref name="rulesJson"/> (no policy when null).</summary>
    protected async Task<TestUser> FluxUserAsync(BaseRole role, string? rulesJson, string? policyRole = null, string bindingCluster = "")
    {
        var user = await Fixture.CreateUserAsync(role);
        if (rulesJson is not null)
        {
            var policy = Guid.CreateVersion7();
            await Fixture.ExecuteAsync(
                "INSERT INTO identity.flux_policies (id, name, role, rules) VALUES (@Id, @Name, @Role, CAST(@Rules AS jsonb))",
                new { Id = policy, Name = $"policy-{policy:N}", Role = policyRole ?? role.Name(), Rules = rulesJson });
            await Fixture.ExecuteAsync(
                "INSERT INTO identity.flux_bindings (id, user_id, policy_id, cluster) VALUES (gen_random_uuid(), @User, @Policy, @Cluster)",
                new { User = user.Id, Policy = policy, Cluster = bindingCluster });
        }

        return user;
    }

    /// <summary>The audit rows written, oldest first.</summary>
    protected Task<List<FluxAuditRow>> AuditAsync() =>
        Fixture.QueryAsync<FluxAuditRow>(
            "SELECT action, resource_type, resource_id, resource_name, actor_id, result, metadata::text AS metadata FROM identity.audit_log ORDER BY occurred_at, id");

    /// <summary>The history rows written, oldest first.</summary>
    protected Task<List<FluxHistoryRow>> HistoryAsync() =>
        Fixture.QueryAsync<FluxHistoryRow>(
            """
            SELECT cluster_id, resource_type, namespace, name, revision, previous_revision, status, trigger_type, triggered_by_user,
                   spec_snapshot::text AS spec_snapshot
            FROM gitops.reconciliation_history ORDER BY created_at, id
            """);

    /// <summary>A history entry of a HelmRelease apps/podinfo (or another object) with an optional spec snapshot.</summary>
    protected async Task<Guid> HistoryEntryAsync(
        Guid cluster, string revision, string? spec, string status = "success", string kind = "HelmRelease", string ns = "apps", string name = "podinfo", string age = "1 day")
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            $"""
            INSERT INTO gitops.reconciliation_history (id, cluster_id, resource_type, namespace, name, revision, status, reconcile_completed_at, spec_snapshot)
            VALUES (@Id, @Cluster, @Kind, @Ns, @Name, @Revision, @Status, now() - interval '{age}', CAST(@Spec AS jsonb))
            """,
            new { Id = id, Cluster = cluster, Kind = kind, Ns = ns, Name = name, Revision = revision, Status = status, Spec = spec });
        return id;
    }
}

public sealed record FluxAuditRow(string Action, string? ResourceType, string? ResourceId, string? ResourceName, Guid? ActorId, string Result, string Metadata);

public sealed record FluxHistoryRow(
    Guid ClusterId, string ResourceType, string Namespace, string Name, string? Revision, string? PreviousRevision, string Status, string TriggerType, Guid? TriggeredByUser, string? SpecSnapshot);
