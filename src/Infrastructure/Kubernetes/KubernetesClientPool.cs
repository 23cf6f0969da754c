namespace Capstan.Infrastructure.Kubernetes;

/// <summary>Counters of the pool, as <c>/api/v1/flux/health</c> shows them.</summary>
public sealed record KubernetesPoolStats(int Clients, long Created, long Reused, long Evicted, DateTimeOffset? LastClearedAt);

/// <summary>
/// One <see cref="KubernetesClient"/> per cluster, kept between requests (connections and TLS sessions are reused).
/// An entry is keyed by the cluster and stamped with a version of its credentials: new credentials make a new
/// client. Idle entries expire, the pool is capped (least recently used goes first), and <see cref="Clear"/> drops
/// everything (<c>POST /api/v1/admin/k8s/clear-client-pool</c>). Dropped clients are disposed after a grace period so
/// calls in flight finish. Per replica: each process keeps its own pool.
/// </summary>
public sealed class KubernetesClientPool(KubernetesClientOptions options, TimeProvider clock) : IDisposable
{
    private static readonly TimeSpan DisposeGrace = TimeSpan.FromSeconds(60);

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private long _created;
    private long _reused;
    private long _evicted;
    private DateTimeOffset? _lastClearedAt;

    public KubernetesClientOptions Options => options;

    /// <summary>The pooled client for <paramref name="key"/> at <paramref name="version"/>, made with
    /// <paramref name="connect"/> when missing, stale or expired.</summary>
    public KubernetesClient Get(string key, string version, string name, Func<ClusterConnection> connect)
    {
        var now = clock.GetUtcNow();
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var entry))
            {
                if (entry.Version == version && now - entry.LastUsed < options.PoolIdleLifetime)
                {
                    entry.LastUsed = now;
                    _reused++;
                    return entry.Client;
                }

                _entries.Remove(key);
                _evicted++;
                Retire(entry.Client);
            }

            EvictBeyondCapacity();
            var client = new KubernetesClient(connect(), name, options);
            _entries[key] = new Entry(client, version) { LastUsed = now };
            _created++;
            return client;
        }
    }

    /// <summary>Drops the client of one cluster (deleted, deactivated).</summary>
    public void Remove(string key)
    {
        lock (_gate)
        {
            if (_entries.Remove(key, out var entry))
            {
                _evicted++;
                Retire(entry.Client);
            }
        }
    }

    /// <summary>Drops every client and resets the counters; returns how many were dropped.</summary>
    public int Clear()
    {
        lock (_gate)
        {
            var count = _entries.Count;
            foreach (var entry in _entries.Values)
            {
                Retire(entry.Client);
            }

            _entries.Clear();
            _created = _reused = _evicted = 0;
            _lastClearedAt = clock.GetUtcNow();
            return count;
        }
    }

    public KubernetesPoolStats Stats
    {
        get
        {
            lock (_gate)
            {
                return new KubernetesPoolStats(_entries.Count, _created, _reused, _evicted, _lastClearedAt);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var entry in _entries.Values)
            {
                entry.Client.Dispose();
            }

            _entries.Clear();
        }
    }

    private void EvictBeyondCapacity()
    {
        while (_entries.Count >= Math.Max(1, options.PoolCapacity))
        {
            var oldest = _entries.MinBy(pair => pair.Value.LastUsed);
            _entries.Remove(oldest.Key);
            _evicted++;
            Retire(oldest.Value.Client);
        }
    }

    private static void Retire(KubernetesClient client) =>
        _ = Task.Delay(DisposeGrace).ContinueWith(_ => client.Dispose(), TaskScheduler.Default);

    private sealed class Entry(KubernetesClient client, string version)
    {
        public KubernetesClient Client { get; } = client;

        public string Version { get; } = version;

        public DateTimeOffset LastUsed { get; set; }
    }
}
