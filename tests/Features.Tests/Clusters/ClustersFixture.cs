using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Clusters;

public sealed class ClustersHandlerFixture : ApiFixture
{
    protected override string Purpose => "clusters_handlers";
}

[CollectionDefinition(Name)]
public sealed class ClustersHandlerCollection : ICollectionFixture<ClustersHandlerFixture>
{
    public const string Name = "clusters-handlers";
}
