using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Infrastructure.Security;

/// <summary>A limit: at most <see cref="Limit"/> hits per <see cref="Window"/>.</summary>
public readonly record struct RateLimitRule(int Limit, TimeSpan Window);

public readonly record struct RateLimitDecision(bool Allowed, int Limit, int Remaining, TimeSpan RetryAfter);

/// <summary>
/// Rate limits shared by every replica: hits are counted in PostgreSQL (<c>platform.rate_limits</c>), per key and fixed
/// window, and judged as a sliding window (the previous window weighted by how much of it still overlaps). Counting
/// uses its own connection, so a hit counts even when the request's transaction rolls back.
/// </summary>
public sealed class RateLimiter(IServiceProvider services, TimeProvider clock)
{
    private const string Hit = """
        WITH hit AS (
            INSERT INTO platform.rate_limits (key, window_start, hits, expires_at)
            VALUES (@Key, @WindowStart, 1, @ExpiresAt)
            ON CONFLICT (key, window_start) DO UPDATE SET hits = platform.rate_limits.hits + 1
            RETURNING hits
        )
        SELECT (SELECT hits FROM hit) AS current_hits,
               COALESCE((SELECT hits FROM platform.rate_limits WHERE key = @Key AND window_start = @PreviousStart), 0) AS previous_hits
        """;

    public async Task<RateLimitDecision> HitAsync(string key, RateLimitRule rule, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var windowTicks = rule.Window.Ticks;
        var windowStart = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % windowTicks), TimeSpan.Zero);
        var elapsed = now - windowStart;

        await using var connection = await services.GetRequiredService<DataSources>().Primary.OpenConnectionAsync(cancellationToken);
        var counts = await connection.QuerySingleAsync<(long CurrentHits, long PreviousHits)>(new CommandDefinition(
            Hit,
            new { Key = key, WindowStart = windowStart.UtcDateTime, PreviousStart = (windowStart - rule.Window).UtcDateTime, ExpiresAt = (windowStart + (2 * rule.Window)).UtcDateTime },
            cancellationToken: cancellationToken));

        var overlap = 1 - (elapsed.TotalMilliseconds / rule.Window.TotalMilliseconds);
        var estimate = (counts.PreviousHits * overlap) + counts.CurrentHits;
        var allowed = estimate <= rule.Limit;
        return new RateLimitDecision(allowed, rule.Limit, Math.Max(0, rule.Limit - (int)Math.Ceiling(estimate)), allowed ? TimeSpan.Zero : rule.Window - elapsed);
    }

    private const string HitMany = """
        WITH input AS (
            SELECT * FROM unnest(@Keys::text[], @Starts::timestamptz[], @PreviousStarts::timestamptz[], @Expires::timestamptz[])
                AS i(key, window_start, previous_start, expires_at)
        ),
        hit AS (
            INSERT INTO platform.rate_limits (key, window_start, hits, expires_at)
            SELECT key, window_start, 1, expires_at FROM input ORDER BY key
            ON CONFLICT (key, window_start) DO UPDATE SET hits = platform.rate_limits.hits + 1
            RETURNING key, hits
        )
        SELECT i.key, h.hits AS current_hits, COALESCE(p.hits, 0) AS previous_hits
        FROM input i
        JOIN hit h ON h.key = i.key
        LEFT JOIN platform.rate_limits p ON p.key = i.key AND p.window_start = i.previous_start
        """;

    /// <summary>Counts one hit on each key in one round trip (keys are locked in a fixed order, so concurrent callers
    /// never deadlock) and returns the decisions in the order of <paramref name="hits"/>.</summary>
    public async Task<RateLimitDecision[]> HitAsync(IReadOnlyList<(string Key, RateLimitRule Rule)> hits, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var starts = hits.Select(hit => new DateTimeOffset(now.UtcTicks - (now.UtcTicks % hit.Rule.Window.Ticks), TimeSpan.Zero)).ToArray();
        await using var connection = await services.GetRequiredService<DataSources>().Primary.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<(string Key, long CurrentHits, long PreviousHits)>(new CommandDefinition(
            HitMany,
            new
            {
                Keys = hits.Select(hit => hit.Key).ToArray(),
                Starts = starts.Select(start => start.UtcDateTime).ToArray(),
                PreviousStarts = starts.Select((start, i) => (start - hits[i].Rule.Window).UtcDateTime).ToArray(),
                Expires = starts.Select((start, i) => (start + (2 * hits[i].Rule.Window)).UtcDateTime).ToArray(),
            },
            cancellationToken: cancellationToken))).ToDictionary(row => row.Key);

        return [.. hits.Select((hit, i) =>
        {
            var (_, current, previous) = rows[hit.Key];
            var elapsed = now - starts[i];
            var overlap = 1 - (elapsed.TotalMilliseconds / hit.Rule.Window.TotalMilliseconds);
            var estimate = (previous * overlap) + current;
            var allowed = estimate <= hit.Rule.Limit;
            return new RateLimitDecision(allowed, hit.Rule.Limit, Math.Max(0, hit.Rule.Limit - (int)Math.Ceiling(estimate)), allowed ? TimeSpan.Zero : hit.Rule.Window - elapsed);
        })];
    }

    /// <summary>Counts a hit and throws 429 (with <c>Retry-After</c>) when the key is over its limit.</summary>
    public async Task EnforceAsync(string key, RateLimitRule rule, CancellationToken cancellationToken, string? message = null)
    {
        var decision = await HitAsync(key, rule, cancellationToken);
        if (!decision.Allowed)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling(decision.RetryAfter.TotalSeconds));
            throw new TooManyRequestsException(decision.RetryAfter, message ?? $"Too many requests. Please try again in {seconds} seconds.");
        }
    }
}
