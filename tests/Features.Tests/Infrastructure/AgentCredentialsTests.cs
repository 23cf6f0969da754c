using Capstan.Infrastructure.Security;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Tests.Infrastructure;

/// <summary>Agent secrets checked on the real database, with the per-agent memory of accepted secrets on: only the
/// secret that was accepted is answered from memory, for the lifetime and no longer; everything else is looked up.
/// (No hub runs here, so nothing evicts early: these tests see the lifetime alone.)</summary>
public sealed class AgentCredentialsTests(FeaturesFixture fixture) : HandlerTest(fixture)
{
    private AgentCredentials Credentials(int lifetimeMilliseconds) => new(
        Fixture.Services,
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Identity:CredentialCacheMilliseconds"] = $"{lifetimeMilliseconds}" }).Build());

    private async Task<(Guid Id, string Secret)> InsertAgentAsync()
    {
        var id = Guid.CreateVersion7();
        var secret = SecretTokens.Generate();
        await Fixture.ExecuteAsync(
            "INSERT INTO access.agents (id, name, secret_hash, scope) VALUES (@id, @name, @hash, '{\"environments\":[\"prod\"]}')",
            new { id, name = $"agent-{id:N}"[..20], hash = SecretTokens.Hash(secret) });
        return (id, secret);
    }

    [Fact]
    public async Task An_accepted_secret_is_answered_from_memory_for_the_lifetime_then_looked_up_again()
    {
        var credentials = Credentials(300);
        var (id, secret) = await InsertAgentAsync();

        var agent = (await credentials.VerifyAsync(id, secret, CancellationToken.None)).ShouldNotBeNull();
        agent.Id.ShouldBe(id);
        agent.ScopeJson.ShouldContain("prod");
        credentials.CachedCount.ShouldBe(1);

        // Revoked behind the cache's back (no hub here): remembered until the lifetime ends, refused after.
        await Fixture.ExecuteAsync("UPDATE access.agents SET status = 'revoked', revoked_at = now() WHERE id = @id", new { id });
        (await credentials.VerifyAsync(id, secret, CancellationToken.None)).ShouldNotBeNull();
        await Task.Delay(350);
        (await credentials.VerifyAsync(id, secret, CancellationToken.None)).ShouldBeNull();
    }

    [Fact]
    public async Task Only_the_accepted_secret_is_remembered_and_refusals_are_not()
    {
        var credentials = Credentials(1000);
        var (id, secret) = await InsertAgentAsync();
        (await credentials.VerifyAsync(id, secret, CancellationToken.None)).ShouldNotBeNull();

        (await credentials.VerifyAsync(id, secret + "x", CancellationToken.None)).ShouldBeNull();
        (await credentials.VerifyAsync(id, null, CancellationToken.None)).ShouldBeNull();
        (await credentials.VerifyAsync(id, string.Empty, CancellationToken.None)).ShouldBeNull();
        (await credentials.VerifyAsync(Guid.CreateVersion7(), secret, CancellationToken.None)).ShouldBeNull();
        credentials.CachedCount.ShouldBe(1);

        // A secret rotated in the database is accepted at once: the old remembered hash does not shadow it.
        var rotated = SecretTokens.Generate();
        await Fixture.ExecuteAsync("UPDATE access.agents SET secret_hash = @hash WHERE id = @id", new { id, hash = SecretTokens.Hash(rotated) });
        (await credentials.VerifyAsync(id, rotated, CancellationToken.None)).ShouldNotBeNull();
        (await credentials.VerifyAsync(id, secret, CancellationToken.None)).ShouldBeNull("the new secret replaced the remembered one");

        credentials.Evict(id);
        credentials.CachedCount.ShouldBe(0);
    }

    [Fact]
    public async Task With_the_lifetime_zero_every_check_is_looked_up()
    {
        var credentials = Credentials(0);
        var (id, secret) = await InsertAgentAsync();
        (await credentials.VerifyAsync(id, secret, CancellationToken.None)).ShouldNotBeNull();
        credentials.CachedCount.ShouldBe(0);

        await Fixture.ExecuteAsync("UPDATE access.agents SET status = 'revoked' WHERE id = @id", new { id });
        (await credentials.VerifyAsync(id, secret, CancellationToken.None)).ShouldBeNull();
    }
}
