using Capstan.Tests.Support;

namespace Capstan.Features.Tests.GitOps;

public sealed class GitOpsHandlerFixture : ApiFixture
{
    protected override string Purpose => "gitops_handlers";
}

[CollectionDefinition(Name)]
public sealed class GitOpsHandlerCollection : ICollectionFixture<GitOpsHandlerFixture>
{
    public const string Name = "gitops-handlers";
}
