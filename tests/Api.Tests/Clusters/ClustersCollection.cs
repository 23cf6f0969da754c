using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Clusters;

public sealed class ClustersFixture : ApiFixture
{
    protected override string Purpose => "clusters";
}

[CollectionDefinition(Name)]
public sealed class ClustersCollection : ICollectionFixture<ClustersFixture>
{
    public const string Name = "clusters";
}

/// <summary>Base of the clusters area's HTTP tests: its own database, and a fake API server per test class.</summary>
[Collection(ClustersCollection.Name)]
public abstract class ClustersTest(ClustersFixture fixture, FakeKubernetesFixture fake) : ApiTest<ClustersFixture>(fixture), IClassFixture<FakeKubernetesFixture>
{
    protected FakeKubernetesApi Api => fake.Api;
}
