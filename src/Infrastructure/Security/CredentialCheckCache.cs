using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Capstan.Infrastructure.Events;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Capstan.Infrastructure.Security;

/// <summary>
/// Accepted credentials (session JWT, API key, session cookie) remembered for a short while, so a busy client costs one
/// credential lookup per <c>Identity:CredentialCacheMilliseconds</c> (500 by default; 0 turns the cache off) instead
/// of one per request. Refusals are never cached, so a new key or session works at once. Two things end an entry early:
/// its lifetime (so a revoked session or key, a deactivated user or a changed role is refused within that time on every
/// replica, whatever happens) and the <c>identity.credentials</c> hub event that database triggers raise when a row
/// deciding a sign-in changes (migration 0130), which drops the user's entries on every replica as soon as the change
/// commits. Keys are SHA-256 hashes of the presented secrets; the secrets themselves are never kept.
/// </summary>
public sealed class CredentialCheckCache
{
    public const string Topic = "identity.credentials";
    private const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly long _lifetimeTicks;

    public CredentialCheckCache(IConfiguration configuration)
    {
        Lifetime = LifetimeFrom(configuration);
        _lifetimeTicks = (long)(Lifetime.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>How long an accepted credential is trusted without a lookup (at most one second).</summary>
    public TimeSpan Lifetime { get; }

    /// <summary>The configured lifetime of accepted credentials, users' and agents' alike.</summary>
    public static TimeSpan LifetimeFrom(IConfiguration configuration) =>
        TimeSpan.FromMilliseconds(Math.Clamp(configuration.GetValue("Identity:CredentialCacheMilliseconds", 500), 0, 1000));

    public int Count => _entries.Count;

    /// <summary>The cache key of a presented secret: its kind and SHA-256. Hashed from a span, so a bearer token needs
    /// no substring and the secret's bytes no array of their own (pooled ones are cleared before they go back).</summary>
    public static string KeyOf(string kind, ReadOnlySpan<char> secret)
    {
        const int StackLimit = 1024;
        var maxBytes = Encoding.UTF8.GetMaxByteCount(secret.Length);
        byte[]? rented = maxBytes > StackLimit ? ArrayPool<byte>.Shared.Rent(maxBytes) : null;
        Span<byte> utf8 = rented is null ? stackalloc byte[StackLimit] : rented;
        try
        {
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(utf8[..Encoding.UTF8.GetBytes(secret, utf8)], hash);
            Span<char> key = stackalloc char[kind.Length + 1 + 44];
            kind.CopyTo(key);
            key[kind.Length] = ':';
            Convert.TryToBase64Chars(hash, key[(kind.Length + 1)..], out _);
            return new string(key);
        }
        finally
        {
            if (rented is not null)
            {
                CryptographicOperations.ZeroMemory(rented);
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>The cached answer for <paramref name="key"/>, or <paramref name="lookup"/>'s (remembered when it accepted),
    /// called with <paramref name="state"/> so callers need no closure. A cached answer comes back without allocating,
    /// and never asks the caller to re-issue cookies: that happened when it was looked up.</summary>
    public ValueTask<CredentialCheck> GetOrLookupAsync<TState>(
        string key, TState state, Func<TState, CancellationToken, Task<CredentialCheck>> lookup, CancellationToken cancellationToken)
    {
        if (_lifetimeTicks == 0)
        {
            return new ValueTask<CredentialCheck>(lookup(state, cancellationToken));
        }

        var now = Stopwatch.GetTimestamp();
        if (_entries.TryGetValue(key, out var cached))
        {
            if (cached.ValidUntil > now)
            {
                return new ValueTask<CredentialCheck>(cached.Check);
            }

            _entries.TryRemove(new KeyValuePair<string, Entry>(key, cached));
        }

        return new ValueTask<CredentialCheck>(RememberAsync(key, now, lookup(state, cancellationToken)));
    }

    private async Task<CredentialCheck> RememberAsync(string key, long now, Task<CredentialCheck> lookup)
    {
        var check = await lookup;
        if (check.Caller is not null)
        {
            var validUntil = now + _lifetimeTicks;
            if (check.ExpiresAt is { } expiresAt)
            {
                // Never past the credential's own expiry.
                var left = expiresAt - DateTimeOffset.UtcNow;
                validUntil = Math.Min(validUntil, now + (long)(Math.Max(0, left.TotalSeconds) * Stopwatch.Frequency));
            }

            if (_entries.Count >= MaxEntries)
            {
                Sweep(now);
            }

            if (_entries.Count < MaxEntries)
            {
                _entries[key] = new Entry(check with { SessionRefreshed = false }, validUntil);
            }
        }

        return check;
    }

    /// <summary>Forgets every cached sign-in of <paramref name="userId"/>.</summary>
    public void Evict(Guid userId)
    {
        foreach (var pair in _entries)
        {
            if (pair.Value.Check.Caller?.UserId == userId)
            {
                _entries.TryRemove(pair);
            }
        }
    }

    public void Clear() => _entries.Clear();

    private void Sweep(long now)
    {
        foreach (var pair in _entries)
        {
            if (pair.Value.ValidUntil <= now)
            {
                _entries.TryRemove(pair);
            }
        }
    }

    private sealed record Entry(CredentialCheck Check, long ValidUntil);
}

/// <summary>Applies <c>identity.credentials</c> hub events (raised by database triggers on every change to sessions, API
/// keys, users, role grants and agents, from any replica or tool) to this replica's <see cref="CredentialCheckCache"/>
/// and <see cref="AgentCredentials"/>: <c>userId</c> names a user, <c>agentId</c> an agent, anything else clears both.</summary>
public sealed class CredentialCheckCacheInvalidation(EventHub hub, CredentialCheckCache cache, AgentCredentials agents, ILogger<CredentialCheckCacheInvalidation> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (cache.Lifetime == TimeSpan.Zero)
        {
            return;
        }

        try
        {
            await foreach (var message in hub.SubscribeAsync(CredentialCheckCache.Topic, stoppingToken, capacity: 10_000))
            {
                if (IdNamed(message.Data, "agentId") is { } agentId)
                {
                    agents.Evict(agentId);
                }
                else if (IdNamed(message.Data, "userId") is { } userId)
                {
                    cache.Evict(userId);
                }
                else
                {
                    cache.Clear();
                    agents.Clear();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            // Without invalidation events entries still end with their lifetime; say so and carry on.
            logger.LogWarning("Credential cache invalidation stopped ({Reason}); entries expire after {Lifetime} ms", exception.Message, cache.Lifetime.TotalMilliseconds);
        }
    }

    private static Guid? IdNamed(JsonElement data, string name) =>
        data.ValueKind == JsonValueKind.Object
        && data.TryGetProperty(name, out var value)
        && value.ValueKind == JsonValueKind.String
        && Guid.TryParse(value.GetString(), out var id)
            ? id
            : null;
}
