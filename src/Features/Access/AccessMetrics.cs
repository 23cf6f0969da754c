using System.Diagnostics.Metrics;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Data;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Access;

/// <summary>
/// The access area's instruments on the <c>Capstan.Access</c> meter (scraped at <c>/metrics</c>): counters of request
/// submissions and state transitions, job claims and completions, wrap retrievals; and gauges of requests by status and
/// of the agents' job queue (queued, claimed, claimed with an expired lease). The gauges show the last sample, taken
/// every 15 seconds by this job (so scrapes never wait on the database).
/// </summary>
public sealed class AccessMetrics : RecurringJob
{
    public const string MeterName = "Capstan.Access";

    public static readonly string[] RequestStatuses = ["pending", "approved", "rejected", "cancelled", "executed", "failed", "expired"];

    private const string RequestCounts = "SELECT status AS name, count(*) AS total FROM access.requests GROUP BY status";

    // Each count reads one of the claim's partial indexes (migration 0131) instead of the table: with a large backlog
    // (200k queued jobs in the benchmark) a grouped scan of access.jobs took both cores in parallel workers every 15
    // seconds, a visible stall for every request served meanwhile.
    private const string QueueCounts = """
        SELECT (SELECT count(*) FROM access.jobs WHERE status = 'queued') AS queued,
               (SELECT count(*) FROM access.jobs WHERE status = 'claimed') AS claimed,
               (SELECT count(*) FROM access.jobs WHERE status = 'claimed' AND claim_expires_at < now()) AS lease_expired
        """;

    private static readonly string[] QueueStates = ["queued", "claimed", "lease_expired"];

    private readonly Counter<long> _submissions;
    private readonly Counter<long> _transitions;
    private readonly Counter<long> _claims;
    private readonly Counter<long> _completions;
    private readonly Counter<long> _retrievals;
    private volatile Snapshot _snapshot = new(RequestStatuses.ToDictionary(status => status, _ => 0L), QueueStates.ToDictionary(state => state, _ => 0L));

    public AccessMetrics(IServiceProvider services, ILogger<AccessMetrics> logger, IMeterFactory meterFactory)
        : base(services, logger)
    {
        var meter = meterFactory.Create(MeterName);
        _submissions = meter.CreateCounter<long>("capstan.access.request.submissions", description: "Access requests submitted, by type.");
        _transitions = meter.CreateCounter<long>("capstan.access.request.transitions", description: "Access request state transitions, by from and to state.");
        _claims = meter.CreateCounter<long>("capstan.access.job.claims", description: "Jobs claimed by agents, by job type.");
        _completions = meter.CreateCounter<long>("capstan.access.job.completions", description: "Jobs completed by agents, by job type and status.");
        _retrievals = meter.CreateCounter<long>("capstan.access.wrap.retrievals", description: "Single-shot wrap retrievals, by who retrieved and the outcome.");
        meter.CreateObservableGauge(
            "capstan.access.requests",
            () => _snapshot.Requests.Select(pair => new Measurement<long>(pair.Value, new KeyValuePair<string, object?>("status", pair.Key))),
            description: "Access requests by status (sampled every 15 s).");
        meter.CreateObservableGauge(
            "capstan.access.jobs.queue_depth",
            () => _snapshot.Queue.Select(pair => new Measurement<long>(pair.Value, new KeyValuePair<string, object?>("state", pair.Key))),
            description: "Agent jobs waiting or in flight, by state (sampled every 15 s).");
    }

    /// <summary>The agents' job queue by state, as last sampled.</summary>
    public IReadOnlyDictionary<string, long> QueueDepth => _snapshot.Queue;

    public override string Name => "access-metrics";

    public override TimeSpan Interval => TimeSpan.FromSeconds(15);

    protected override TimeSpan FirstRunDelay => TimeSpan.FromSeconds(1);

    public override async Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        var db = scope.GetRequiredService<DbSession>();
        var requests = RequestStatuses.ToDictionary(status => status, _ => 0L);
        foreach (var row in await db.QueryAsync<Count>(RequestCounts, null, cancellationToken))
        {
            requests[row.Name] = row.Total;
        }

        var depth = await db.QuerySingleAsync<QueueDepthRow>(QueueCounts, null, cancellationToken);
        var queue = new Dictionary<string, long>
        {
            ["queued"] = depth.Queued,
            ["claimed"] = depth.Claimed - depth.LeaseExpired,
            ["lease_expired"] = depth.LeaseExpired,
        };
        _snapshot = new Snapshot(requests, queue);
    }

    public void Submitted(string type) => _submissions.Add(1, new KeyValuePair<string, object?>("type", type));

    public void Transitioned(string from, string to) =>
        _transitions.Add(1, new KeyValuePair<string, object?>("from", from), new KeyValuePair<string, object?>("to", to));

    public void Claimed(string jobType) => _claims.Add(1, new KeyValuePair<string, object?>("job_type", jobType));

    public void Completed(string jobType, string status) =>
        _completions.Add(1, new KeyValuePair<string, object?>("job_type", jobType), new KeyValuePair<string, object?>("status", status));

    public void Retrieved(string by, string outcome) =>
        _retrievals.Add(1, new KeyValuePair<string, object?>("by", by), new KeyValuePair<string, object?>("outcome", outcome));

    private sealed class Count
    {
        public string Name { get; init; } = string.Empty;

        public long Total { get; init; }
    }

    private sealed class QueueDepthRow
    {
        public long Queued { get; init; }

        public long Claimed { get; init; }

        public long LeaseExpired { get; init; }
    }

    private sealed record Snapshot(IReadOnlyDictionary<string, long> Requests, IReadOnlyDictionary<string, long> Queue);
}
