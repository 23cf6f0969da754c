using System.Diagnostics.Metrics;
using Capstan.Features.Access;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Capstan.Features.Tests.Access;

/// <summary>The queue-depth gauge's sample, taken on the real database: queued jobs, jobs under a live lease and jobs
/// whose lease ran out are told apart, and finished jobs are not counted.</summary>
public sealed class AccessMetricsTests(FeaturesFixture fixture) : HandlerTest(fixture)
{
    [Fact]
    public async Task The_queue_sample_counts_queued_claimed_and_expired_leases_apart()
    {
        await Fixture.ExecuteAsync("""
            INSERT INTO access.jobs (id, job_type, correlation_id, status, claim_expires_at)
            SELECT gen_random_uuid(), 'sync', gen_random_uuid(), state, expires
            FROM (VALUES ('queued', NULL::timestamptz), ('queued', NULL), ('queued', NULL),
                         ('claimed', now() + interval '30 seconds'), ('claimed', now() + interval '10 seconds'),
                         ('claimed', now() - interval '1 second'),
                         ('succeeded', NULL), ('failed', NULL)) AS jobs (state, expires)
            """);
        // A meter factory of its own, so this second set of instruments does not show up in the fixture's scrape.
        await using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new AccessMetrics(Fixture.Services, NullLogger<AccessMetrics>.Instance, meters.GetRequiredService<IMeterFactory>());
        metrics.QueueDepth.Values.ShouldAllBe(count => count == 0);

        await using var scope = Fixture.Services.CreateAsyncScope();
        await metrics.RunOnceAsync(scope.ServiceProvider, CancellationToken.None);

        metrics.QueueDepth["queued"].ShouldBe(3);
        metrics.QueueDepth["claimed"].ShouldBe(2);
        metrics.QueueDepth["lease_expired"].ShouldBe(1);
    }
}
