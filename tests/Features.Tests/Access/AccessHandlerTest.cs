using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using MediatR;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Access;

public sealed class AccessHandlerFixture : ApiFixture
{
    protected override string Purpose => "access_handlers";
}

[CollectionDefinition(Name)]
public sealed class AccessHandlerCollection : ICollectionFixture<AccessHandlerFixture>
{
    public const string Name = "access_handlers";
}

/// <summary>Base of the access handler tests: slices' requests sent through the real pipeline as a given caller (with
/// custom-role grants when needed) or as an agent.</summary>
[Collection(AccessHandlerCollection.Name)]
public abstract class AccessHandlerTest(AccessHandlerFixture fixture) : HandlerTest<AccessHandlerFixture>(fixture)
{
    protected static Caller CallerOf(TestUser user, params ScopedGrant[] grants) =>
        user.AsCaller() with { ScopedGrants = grants };

    protected async Task<T> SendAsync<T>(Caller caller, IRequest<T> request)
    {
        await using var scope = Fixture.Services.CreateAsyncScope();
        var context = scope.ServiceProvider.GetRequiredService<RequestContext>();
        context.Caller = caller;
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
    protected async Task<(AgentIdentity Agent, string Secret)> CreateAgentAsync(string scopeJson = "{}", byte[]? publicKey = null)
    {
        var id = Guid.CreateVersion7();
        var secret = SecretTokens.Generate();
        var name = $"agent-{id:N}";
        await Fixture.ExecuteAsync(
            """
            INSERT INTO access.agents (id, name, scope, secret_hash, public_key, public_key_algorithm)
            VALUES (@Id, @Name, CAST(@Scope AS jsonb), @Hash, @PublicKey, @Algorithm)
            """,
            new { Id = id, Name = name, Scope = scopeJson, Hash = SecretTokens.Hash(secret), PublicKey = publicKey, Algorithm = publicKey is null ? null : "x25519" });
        return (new AgentIdentity(id, name, "active", publicKey, scopeJson), secret);
    }
}
