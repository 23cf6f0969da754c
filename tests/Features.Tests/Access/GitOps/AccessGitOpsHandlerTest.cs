using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using MediatR;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Access.GitOps;

/// <summary>A host of its own with the opt-in ArgoCD integration on (<c>Access:GitOps:Enabled</c>), so an executed
/// request starts its observations as it does in production.</summary>
public sealed class AccessGitOpsFixture : ApiFixture
{
    protected override string Purpose => "access_gitops_handlers";

    protected override ApiFactory CreateFactory(string connectionString) =>
        new(connectionString, new Dictionary<string, string?> { ["Access:GitOps:Enabled"] = "true" });
}

[CollectionDefinition(Name)]
public sealed class AccessGitOpsCollection : ICollectionFixture<AccessGitOpsFixture>
{
    public const string Name = "access_gitops_handlers";
}

/// <summary>Base of the ArgoCD integration's handler tests: requests sent as a user or an agent, and a local ArgoCD
/// stand-in per test.</summary>
[Collection(AccessGitOpsCollection.Name)]
public abstract class AccessGitOpsHandlerTest(AccessGitOpsFixture fixture) : HandlerTest<AccessGitOpsFixture>(fixture)
{
    protected FakeArgoCd Argo { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Argo = await FakeArgoCd.StartAsync();
    }

    public override async Task DisposeAsync()
    {
        await Argo.DisposeAsync();
        await base.DisposeAsync();
    }

    protected async Task<T> SendAsync<T>(TestUser user, IRequest<T> request)
    {
        await using var scope = Fixture.Services.CreateAsyncScope();
        var context = scope.ServiceProvider.GetRequiredService<RequestContext>();
        context.Caller = user.AsCaller();
        context.RequestId = "handler-test";
        return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(request);
    }

    protected async Task<T> SendAsAgentAsync<T>(AgentIdentity agent, IRequest<T> request)
    {
        await using var scope = Fixture.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<RequestContext>().Agent = agent;
        return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(request);
    }

    /// <summary>An agent row and its identity, as the agent middleware would hand it over.</summary>
    protected async Task<AgentIdentity> CreateAgentAsync()
    {
        var id = Guid.CreateVersion7();
        var name = $"agent-{id:N}";
        await Fixture.ExecuteAsync(
            "INSERT INTO access.agents (id, name, scope, secret_hash) VALUES (@Id, @Name, '{}', @Hash)",
            new { Id = id, Name = name, Hash = SecretTokens.Hash(SecretTokens.Generate()) });
        return new AgentIdentity(id, name, "active", null, "{}");
    }
}
