using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using Capstan.Infrastructure.Data;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Infrastructure.Security;

/// <summary>Route metadata: the route is called by an access agent, authenticated by <c>X-Agent-Secret</c> for the
/// agent named by the route's <c>{id}</c> (seed 003's "agent" auth). Such routes are not user routes: user credentials
/// are ignored on them. The contract tests and the OpenAPI document read this marker.</summary>
public sealed record AgentAuthenticated
{
    public const string HeaderName = "X-Agent-Secret";

    /// <summary>The route value naming the agent.</summary>
    public const string RouteValue = "id";
}

/// <summary>An authenticated agent, as the agent routes see it.</summary>
public sealed record AgentIdentity(Guid Id, string Name, string Status, byte[]? PublicKey, string ScopeJson)
{
    /// <summary>The audit/actor string of seed 003 (<c>agent:&lt;uuid&gt;</c>).</summary>
    public string Actor => $"agent:{Id}";
}

public static class AgentRouteAccess
{
    /// <summary>The route is an agent route: the pipeline authenticates <c>X-Agent-Secret</c> against the agent named by
    /// the route's <c>{id}</c> before the handler runs (401 for a missing, unknown, wrong or revoked credential, all
    /// alike), and handlers read the agent from <see cref="RequestContext.RequiredAgent"/>.</summary>
    public static TBuilder RequireAgent<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new AgentAuthenticated());
}

/// <summary>
/// Checks agent credentials: agent secrets are 32 random bytes shown once at mint and stored as their SHA-256. Every
/// lookup does the same work whether the agent exists or not (one primary-key lookup, one hash, one fixed-time
/// comparison against the stored hash or a dummy), so the answer time says nothing about which part was wrong.
/// An accepted secret is remembered per agent for the credential cache's lifetime (<c>Identity:CredentialCacheMilliseconds</c>,
/// 500 ms by default), so a polling agent costs one lookup per lifetime instead of one per request; only the very secret
/// that was accepted is answered from memory, and anything else (a wrong secret, an unknown or revoked agent) is
/// looked up, so the cache tells a guesser nothing. A database trigger (migration 0170) evicts the agent on every
/// replica when it is revoked, deleted or its secret, scope or key changes; the lifetime bounds staleness otherwise.
/// </summary>
public sealed class AgentCredentials(IServiceProvider services, IConfiguration configuration)
{
    private const string ById = """
        SELECT id, name, status, secret_hash, public_key, scope::text AS scope_json
        FROM access.agents WHERE id = @Id
        """;

    private const int MaxEntries = 100_000;

    private static readonly byte[] Dummy = SHA256.HashData(RandomNumberGenerator.GetBytes(32));

    private readonly ConcurrentDictionary<Guid, Accepted> _accepted = new();
    private readonly long _lifetimeTicks = (long)(CredentialCheckCache.LifetimeFrom(configuration).TotalSeconds * Stopwatch.Frequency);

    /// <summary>How many agents are answered from memory right now.</summary>
    public int CachedCount => _accepted.Count;

    public async Task<AgentIdentity?> VerifyAsync(Guid agentId, string? presentedSecret, CancellationToken cancellationToken)
    {
        var presented = SecretTokens.Hash(presentedSecret ?? string.Empty);
        var now = Stopwatch.GetTimestamp();
        if (_accepted.TryGetValue(agentId, out var cached) && cached.ValidUntil > now
            && CryptographicOperations.FixedTimeEquals(presented, cached.SecretHash))
        {
            return cached.Agent;
        }

        await using var connection = await services.GetRequiredService<DataSources>().Primary.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<AgentRow>(new CommandDefinition(ById, new { Id = agentId }, cancellationToken: cancellationToken));
        var expected = row?.SecretHash is { Length: 32 } hash ? hash : Dummy;
        var matches = CryptographicOperations.FixedTimeEquals(presented, expected);
        if (!matches || row is null || row.Status == "revoked" || string.IsNullOrEmpty(presentedSecret))
        {
            return null;
        }

        var agent = new AgentIdentity(row.Id, row.Name, row.Status, row.PublicKey, row.ScopeJson);
        if (_lifetimeTicks > 0 && _accepted.Count < MaxEntries)
        {
            _accepted[agentId] = new Accepted(expected, agent, now + _lifetimeTicks);
        }

        return agent;
    }

    /// <summary>Forgets the accepted secret of <paramref name="agentId"/>: its next request is looked up.</summary>
    public void Evict(Guid agentId) => _accepted.TryRemove(agentId, out _);

    public void Clear() => _accepted.Clear();

    private sealed record AgentRow(Guid Id, string Name, string Status, byte[] SecretHash, byte[]? PublicKey, string ScopeJson);

    private sealed record Accepted(byte[] SecretHash, AgentIdentity Agent, long ValidUntil);
}
