using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Features.Tests.GitOps;

/// <summary>The gitops handlers' host: the kustomize stand-in as the diff tool, so the diff does not depend on the
/// machine's kubectl.</summary>
public sealed class GitOpsHandlerFixture : ApiFixture
{
    protected override string Purpose => "gitops_handlers";

    protected override ApiFactory CreateFactory(string connectionString) =>
        new(connectionString, new Dictionary<string, string?> { ["Flux:Kustomize:Path"] = KustomizeStandIn.Path });
}

[CollectionDefinition(Name)]
public sealed class GitOpsHandlerCollection : ICollectionFixture<GitOpsHandlerFixture>
{
    public const string Name = "gitops-handlers";
}
