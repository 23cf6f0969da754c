using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.GitOps;

/// <summary>The gitops host: heartbeats every second (so tests see them), the kustomize stand-in as the diff tool.</summary>
public sealed class GitOpsFixture : ApiFixture
{
    protected override string Purpose => "gitops";

    protected override ApiFactory CreateFactory(string connectionString) => new(connectionString, new Dictionary<string, string?>
    {
        ["GitOps:Live:HeartbeatSeconds"] = "1",
        ["Flux:Kustomize:Path"] = KustomizeStandIn.Path,
    });
}

[CollectionDefinition(Name)]
public sealed class GitOpsCollection : ICollectionFixture<GitOpsFixture>
{
    public const string Name = "gitops";
}

/// <summary>Base of the gitops area's HTTP tests (and the Flux RBAC routes): its own database, a fake API server per
/// test class, reset to the seeded Flux objects before every test.</summary>
[Collection(GitOpsCollection.Name)]
public abstract class GitOpsTest(GitOpsFixture fixture, FakeKubernetesFixture fake) : ApiTest<GitOpsFixture>(fixture), IClassFixture<FakeKubernetesFixture>
{
    public const string ViewerRead = "00000000-0000-0000-0000-000000000001";
    public const string EditorRead = "00000000-0000-0000-0000-000000000002";
    public const string EditorWrite = "00000000-0000-0000-0000-000000000003";

    protected FakeKubernetesApi Api => fake.Api;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Api.Reset();
    }

    /// <summary>The fake cluster as a platform cluster (everyone's default).</summary>
    protected Task<Guid> RegisterClusterAsync(string name = "prod") => Fixture.RegisterClusterAsync(Api, name);

    /// <summary>A client of <paramref name="role"/> bound to the given Flux policies (on every cluster).</summary>
    protected async Task<(HttpClient Client, TestUser User)> FluxClientAsync(BaseRole role, params string[] policies)
    {
        var (client, user) = await Fixture.ClientAsAsync(role);
        foreach (var policy in policies)
        {
            await BindAsync(user, policy);
        }

        return (client, user);
    }

    protected Task BindAsync(TestUser user, string policyId, string cluster = "") =>
        Fixture.ExecuteAsync(
            "INSERT INTO identity.flux_bindings (id, user_id, policy_id, cluster) VALUES (gen_random_uuid(), @User, @Policy::uuid, @Cluster)",
            new { User = user.Id, Policy = policyId, Cluster = cluster });

    /// <summary>A custom policy of one rule, returning its id.</summary>
    protected async Task<string> PolicyAsync(string role, string rulesJson)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.flux_policies (id, name, role, rules) VALUES (@Id, @Name, @Role, CAST(@Rules AS jsonb))",
            new { Id = id, Name = $"policy-{id:N}", Role = role, Rules = rulesJson });
        return id.ToString();
    }
}
