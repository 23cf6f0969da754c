using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Tests.Infrastructure;

/// <summary>The global limits' leases on the real database: exact near the limit across replicas (each replica is a
/// limiter of its own here), few takes far from it, a lapsed lease's rest given back, refusals counted.</summary>
public sealed class LeasedRateLimiterTests(FeaturesFixture fixture) : HandlerTest(fixture)
{
    private static readonly DateTimeOffset Start = new(2026, 11, 22, 12, 0, 5, TimeSpan.Zero);

    private LeasedRateLimiter Limiter(TimeProvider clock, int leaseMilliseconds = 1000) => new(
        Fixture.Services,
        clock,
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["RateLimits:LeaseMilliseconds"] = $"{leaseMilliseconds}" }).Build());

    private Task<long> StoredHitsAsync(string key) =>
        Fixture.ScalarAsync<long>("SELECT COALESCE(sum(hits), 0) FROM platform.rate_limits WHERE key = @key", new { key });

    [Fact]
    public async Task Three_replicas_taking_round_robin_admit_exactly_the_limit_and_then_refuse()
    {
        var clock = new ManualClock(Start);
        var replicas = new[] { Limiter(clock), Limiter(clock), Limiter(clock) };
        var rule = new RateLimitRule(60, TimeSpan.FromMinutes(10));

        var answers = new List<bool>();
        for (var i = 0; i < 75; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(2));
            answers.Add((await replicas[i % 3].HitAsync([("test:round-robin", rule)], CancellationToken.None))[0].Allowed);
        }

        answers.Take(60).ShouldAllBe(allowed => allowed);
        answers.Skip(60).ShouldAllBe(allowed => !allowed);
        // Leases were taken far from the limit (a lease of 60 / 16 = 3), yet nothing was lost or admitted twice.
        (await StoredHitsAsync("test:round-robin")).ShouldBe(75);
    }

    [Fact]
    public async Task A_busy_key_far_from_its_limit_is_taken_in_leases_and_counts_stay_within_one_lease()
    {
        var clock = new ManualClock(Start);
        var limiter = Limiter(clock);
        var rule = new RateLimitRule(1_000_000, TimeSpan.FromMinutes(10));

        for (var i = 0; i < 2000; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1));
            (await limiter.HitAsync([("test:busy", rule)], CancellationToken.None))[0].Allowed.ShouldBeTrue();
        }

        var (hits, granted) = (await Fixture.QueryAsync<(long Hits, long Granted)>(
            "SELECT hits, granted FROM platform.rate_limits WHERE key = 'test:busy'")).Single();
        // 1000 hits a second and a one-second lease: leases of about 500 hits, so a handful of takes, not 2000.
        granted.ShouldBeGreaterThan(100);
        hits.ShouldBeGreaterThanOrEqualTo(2000);
        (hits - 2000).ShouldBeLessThan(granted, "only the current lease's unspent rest is counted beyond the hits made");
    }

    [Fact]
    public async Task A_lapsed_lease_gives_its_rest_back_so_another_replica_can_use_it()
    {
        var clock = new ManualClock(Start);
        var (one, two) = (Limiter(clock), Limiter(clock));
        var rule = new RateLimitRule(100, TimeSpan.FromMinutes(10));
        const string Key = "test:lapsed";

        // Replica one gets busy: its leases grow to a sixteenth of what is left.
        for (var i = 0; i < 20; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1));
            (await one.HitAsync([(Key, rule)], CancellationToken.None))[0].Allowed.ShouldBeTrue();
        }

        var heldByOne = await StoredHitsAsync(Key) - 20;
        heldByOne.ShouldBeGreaterThan(0, "replica one holds part of a lease");

        // Traffic moves to replica two, which gets what replica one does not hold, and the window is full.
        for (var i = 0; i < 80 - heldByOne; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1));
            (await two.HitAsync([(Key, rule)], CancellationToken.None))[0].Allowed.ShouldBeTrue();
        }

        (await StoredHitsAsync(Key)).ShouldBe(100);

        // Replica one's lease lapses; its rest goes back to the window at its next take, which it then gets.
        clock.Advance(TimeSpan.FromSeconds(2));
        (await one.HitAsync([(Key, rule)], CancellationToken.None))[0].Allowed.ShouldBeTrue();
        (await StoredHitsAsync(Key)).ShouldBeLessThanOrEqualTo(100, "the rest was given back, not taken on top");
    }

    [Fact]
    public async Task Refused_hits_are_counted_and_say_when_to_retry()
    {
        var clock = new ManualClock(Start);
        var limiter = Limiter(clock);
        var rule = new RateLimitRule(5, TimeSpan.FromMinutes(1));
        var decisions = new List<RateLimitDecision>();
        for (var i = 0; i < 8; i++)
        {
            decisions.Add((await limiter.HitAsync([("test:refused", rule), ("test:refused-other", new RateLimitRule(1000, TimeSpan.FromMinutes(1)))], CancellationToken.None))[0]);
        }

        decisions.Select(decision => decision.Allowed).ShouldBe([true, true, true, true, true, false, false, false]);
        decisions.Select(decision => decision.Remaining).ShouldBe([4, 3, 2, 1, 0, 0, 0, 0]);
        decisions[^1].RetryAfter.ShouldBe(TimeSpan.FromSeconds(55));
        (await StoredHitsAsync("test:refused")).ShouldBe(8);
    }

    [Fact]
    public async Task With_leases_off_every_hit_is_its_own_take()
    {
        var clock = new ManualClock(Start);
        var limiter = Limiter(clock, leaseMilliseconds: 0);
        var rule = new RateLimitRule(1_000_000, TimeSpan.FromMinutes(10));
        for (var i = 0; i < 50; i++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(1));
            await limiter.HitAsync([("test:exact", rule)], CancellationToken.None);
        }

        (await StoredHitsAsync("test:exact")).ShouldBe(50);
    }
}
