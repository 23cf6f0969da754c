using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.GitOps;

public sealed class GitOpsFixture : ApiFixture
{
    protected override string Purpose => "gitops";
}

[CollectionDefinition(Name)]
public sealed class GitOpsCollection : ICollectionFixture<GitOpsFixture>
{
    public const string Name = "gitops";
}

/// <summary>Base of the gitops area's HTTP tests (and the Flux RBAC routes): its own database, a fake API server per
/// test class.</summary>
[Collection(GitOpsCollection.Name)]
public abstract class GitOpsTest(GitOpsFixture fixture, FakeKubernetesFixture fake) : ApiTest<GitOpsFixture>(fixture), IClassFixture<FakeKubernetesFixture>
{
    protected FakeKubernetesApi Api => fake.Api;
}
