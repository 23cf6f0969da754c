using System.Collections.Concurrent;
using Capstan.Infrastructure.Data;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Infrastructure.Security;

/// <summary>
/// Limits judged on every request without a database round trip per request. Hits are counted in the same shared
/// windows as <see cref="RateLimiter"/> (<c>platform.rate_limits</c>, sliding), but a replica takes them in leases:
/// several hits of a key at once, spent locally. A lease is never more than a sixteenth of what the window has left,
/// so near the limit every hit is taken one by one and the limit stays exact across replicas (a limit of 60 admits 60),
/// while far from it a busy key costs a few round trips a second. A lease is sized to about half a lease lifetime of
/// the key's recent rate, lives at most <c>RateLimits:LeaseMilliseconds</c> (1000; 0 takes every hit alone) and only
/// within its window; what is left of a lapsed lease goes back to the window at the key's next take. A refused
/// request is counted, so a client that keeps knocking stays refused.
/// </summary>
public sealed class LeasedRateLimiter
{
    private const int LeaseFractionOfRemaining = 16;
    private const int MaxLease = 1000;
    private const int SweepAbove = 10_000;

    // One statement for every key that needs hits: the previous window's count, then the take, sized in the database
    // (at most @Wanted, never past the limit, at least the one hit that is always counted) after giving back what a
    // lapsed lease left. Keys are locked in a fixed order so concurrent takes never deadlock.
    private const string Take = """
        WITH input AS (
            SELECT i.*, COALESCE(p.hits, 0) AS previous_hits
            FROM unnest(@Keys::text[], @Starts::timestamptz[], @PreviousStarts::timestamptz[], @Expires::timestamptz[],
                        @Limits::bigint[], @Overlaps::float8[], @Wanted::bigint[], @Returned::bigint[])
                AS i(key, window_start, previous_start, expires_at, hit_limit, overlap, wanted, returned)
            LEFT JOIN platform.rate_limits p ON p.key = i.key AND p.window_start = i.previous_start
        ),
        taken AS (
            INSERT INTO platform.rate_limits AS r (key, window_start, hits, expires_at, granted)
            SELECT key, window_start, g.granted, expires_at, g.granted
            FROM input, LATERAL (SELECT GREATEST(1, LEAST(wanted, floor(hit_limit - previous_hits * overlap)))::bigint AS granted) g
            ORDER BY key
            ON CONFLICT (key, window_start) DO UPDATE SET (hits, granted) = (
                SELECT r.hits - i.returned + g.granted, g.granted
                FROM input i,
                     LATERAL (SELECT GREATEST(1, LEAST(i.wanted, floor(i.hit_limit - i.previous_hits * i.overlap - (r.hits - i.returned))))::bigint AS granted) g
                WHERE i.key = r.key)
            RETURNING key, hits, granted
        )
        SELECT t.key, t.hits AS current_hits, t.granted, i.previous_hits
        FROM input i JOIN taken t ON t.key = i.key
        """;

    private readonly ConcurrentDictionary<string, Lease> _leases = new(StringComparer.Ordinal);
    private readonly IServiceProvider _services;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _leaseLifetime;

    public LeasedRateLimiter(IServiceProvider services, TimeProvider clock, IConfiguration configuration)
    {
        _services = services;
        _clock = clock;
        _leaseLifetime = TimeSpan.FromMilliseconds(Math.Max(0, configuration.GetValue("RateLimits:LeaseMilliseconds", 1000)));
    }

    /// <summary>Counts one hit on each key (keys must differ) and returns the decisions in the order of
    /// <paramref name="hits"/>; at most one round trip, none when every key still holds a lease.</summary>
    public async Task<RateLimitDecision[]> HitAsync(IReadOnlyList<(string Key, RateLimitRule Rule)> hits, CancellationToken cancellationToken)
    {
        var decisions = new RateLimitDecision[hits.Count];
        var pending = new List<int>(hits.Count);
        var now = _clock.GetUtcNow();
        for (var i = 0; i < hits.Count; i++)
        {
            var lease = _leases.GetOrAdd(hits[i].Key, static _ => new Lease());
            if (lease.TrySpend(WindowStart(now, hits[i].Rule), now, _leaseLifetime, hits[i].Rule, out decisions[i]))
            {
                continue;
            }

            pending.Add(i);
        }

        if (pending.Count == 0)
        {
            return decisions;
        }

        // Takes of one key on this replica queue up behind each other (the queue sizes the next lease), in key order
        // so two requests sharing keys never wait on each other crosswise.
        pending.Sort((a, b) => string.CompareOrdinal(hits[a].Key, hits[b].Key));
        var held = new List<Lease>(pending.Count);
        try
        {
            foreach (var i in pending)
            {
                var lease = _leases.GetOrAdd(hits[i].Key, static _ => new Lease());
                await lease.QueueForTakeAsync(cancellationToken);

                held.Add(lease);
            }

            now = _clock.GetUtcNow();
            var takes = new List<(int Index, Lease Lease, TakeRequest Request)>(pending.Count);
            for (var n = 0; n < pending.Count; n++)
            {
                var i = pending[n];
                var windowStart = WindowStart(now, hits[i].Rule);
                // Another request may have taken a lease while this one queued.
                if (!held[n].TrySpend(windowStart, now, _leaseLifetime, hits[i].Rule, out decisions[i]))
                {
                    takes.Add((i, held[n], held[n].PrepareTake(hits[i].Rule, windowStart, now, _leaseLifetime)));
                }
            }

            if (takes.Count > 0)
            {
                var rows = await TakeAsync(hits, takes, cancellationToken);
                foreach (var (i, lease, request) in takes)
                {
                    decisions[i] = lease.Record(request, rows[hits[i].Key], hits[i].Rule, now);
                }
            }
        }
        finally
        {
            foreach (var lease in held)
            {
                lease.Taking.Release();
            }
        }

        if (_leases.Count > SweepAbove)
        {
            Sweep(now);
        }

        return decisions;
    }

    private async Task<Dictionary<string, TakeRow>> TakeAsync(
        IReadOnlyList<(string Key, RateLimitRule Rule)> hits, List<(int Index, Lease Lease, TakeRequest Request)> takes, CancellationToken cancellationToken)
    {
        await using var connection = await _services.GetRequiredService<DataSources>().Primary.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<TakeRow>(new CommandDefinition(
            Take,
            new
            {
                Keys = takes.Select(take => hits[take.Index].Key).ToArray(),
                Starts = takes.Select(take => take.Request.WindowStart.UtcDateTime).ToArray(),
                PreviousStarts = takes.Select(take => (take.Request.WindowStart - hits[take.Index].Rule.Window).UtcDateTime).ToArray(),
                Expires = takes.Select(take => (take.Request.WindowStart + (2 * hits[take.Index].Rule.Window)).UtcDateTime).ToArray(),
                Limits = takes.Select(take => (long)hits[take.Index].Rule.Limit).ToArray(),
                Overlaps = takes.Select(take => take.Request.Overlap).ToArray(),
                Wanted = takes.Select(take => take.Request.Wanted).ToArray(),
                Returned = takes.Select(take => take.Request.Returned).ToArray(),
            },
            cancellationToken: cancellationToken));
        return rows.ToDictionary(row => row.Key, StringComparer.Ordinal);
    }

    /// <summary>Forgets keys not taken for two of their windows (their leases lapsed long ago).</summary>
    private void Sweep(DateTimeOffset now)
    {
        foreach (var (key, lease) in _leases)
        {
            if (lease.IsIdle(now))
            {
                _leases.TryRemove(key, out _);
            }
        }
    }

    private static DateTimeOffset WindowStart(DateTimeOffset now, RateLimitRule rule) =>
        new(now.UtcTicks - (now.UtcTicks % rule.Window.Ticks), TimeSpan.Zero);

    private static double Overlap(DateTimeOffset now, DateTimeOffset windowStart, RateLimitRule rule) =>
        1 - ((now - windowStart).TotalMilliseconds / rule.Window.TotalMilliseconds);

    private readonly record struct TakeRequest(DateTimeOffset WindowStart, double Overlap, long Wanted, long Returned);

    private sealed record TakeRow(string Key, long CurrentHits, long Granted, long PreviousHits);

    /// <summary>A replica's lease on one key: hits taken from the shared window and not spent yet.</summary>
    private sealed class Lease
    {
        public readonly SemaphoreSlim Taking = new(1, 1);

        private readonly Lock _gate = new();
        private int _queued;
        private DateTimeOffset _windowStart;
        private DateTimeOffset _takenAt;
        private TimeSpan _window;
        private long _held;
        private long _spentSinceTake;
        private long _remainingAfterTake = -1;
        private double _ratePerSecond;

        /// <summary>Waits for this replica's other take of the key (if any); the queue's length sizes the next lease.</summary>
        public async Task QueueForTakeAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _queued);
            try
            {
                await Taking.WaitAsync(cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _queued);
            }
        }

        public bool TrySpend(DateTimeOffset windowStart, DateTimeOffset now, TimeSpan lifetime, RateLimitRule rule, out RateLimitDecision decision)
        {
            lock (_gate)
            {
                if (_held > 0 && _windowStart == windowStart && now - _takenAt < lifetime)
                {
                    _held--;
                    _spentSinceTake++;
                    decision = new RateLimitDecision(true, rule.Limit, (int)Math.Min(int.MaxValue, _remainingAfterTake + _held), TimeSpan.Zero);
                    return true;
                }

                decision = default;
                return false;
            }
        }

        /// <summary>What to ask the window for: enough for the requests queued here and for half a lifetime at the
        /// recent rate, within a sixteenth of what the window had left; and the lapsed lease's rest to give back.</summary>
        public TakeRequest PrepareTake(RateLimitRule rule, DateTimeOffset windowStart, DateTimeOffset now, TimeSpan lifetime)
        {
            lock (_gate)
            {
                var returned = _windowStart == windowStart ? _held : 0;
                _held = 0;
                long wanted = 1;
                if (lifetime > TimeSpan.Zero && _remainingAfterTake >= 0)
                {
                    var sinceTake = (now - _takenAt).TotalSeconds;
                    if (sinceTake > 0)
                    {
                        var rate = _spentSinceTake / Math.Max(sinceTake, 0.001);
                        _ratePerSecond = _ratePerSecond == 0 ? rate : (_ratePerSecond + rate) / 2;
                    }

                    var forRate = (long)Math.Ceiling(_ratePerSecond * lifetime.TotalSeconds / 2);
                    wanted = Math.Min(Math.Max(1 + Volatile.Read(ref _queued), forRate), Math.Max(1, _remainingAfterTake / LeaseFractionOfRemaining));
                    wanted = Math.Clamp(wanted, 1, MaxLease);
                }

                return new TakeRequest(windowStart, Overlap(now, windowStart, rule), wanted, returned);
            }
        }

        /// <summary>Holds what the take granted beyond this request's own hit, and judges this request.</summary>
        public RateLimitDecision Record(TakeRequest request, TakeRow row, RateLimitRule rule, DateTimeOffset now)
        {
            lock (_gate)
            {
                var estimate = (row.PreviousHits * request.Overlap) + row.CurrentHits;
                var allowed = estimate <= rule.Limit;
                _windowStart = request.WindowStart;
                _window = rule.Window;
                _takenAt = now;
                _held = allowed ? row.Granted - 1 : 0;
                _spentSinceTake = 1;
                _remainingAfterTake = Math.Max(0, rule.Limit - (long)Math.Ceiling(estimate));
                var remaining = (int)Math.Min(int.MaxValue, _remainingAfterTake + _held);
                return new RateLimitDecision(allowed, rule.Limit, remaining, allowed ? TimeSpan.Zero : rule.Window - (now - request.WindowStart));
            }
        }

        public bool IsIdle(DateTimeOffset now)
        {
            lock (_gate)
            {
                return Volatile.Read(ref _queued) == 0 && now - _takenAt > 2 * _window;
            }
        }
    }
}
