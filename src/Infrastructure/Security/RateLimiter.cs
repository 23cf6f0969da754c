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
