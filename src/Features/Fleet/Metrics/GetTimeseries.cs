using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Metrics;

/// <summary><c>GET /api/v1/metrics/timeseries</c> (seed 004): the fleet's (or one <c>instanceId</c>'s) metrics over
/// <c>range</c> 1h, 6h, 24h or 7d (1h by default), averaged per instance in buckets of 1m, 5m, 15m and 1h, oldest
/// first (at most 10,000 points). Counters (network bytes) take the bucket's last value.</summary>
public static class GetTimeseries
{
    public sealed record Query(string Range, Guid? InstanceId) : IQuery<Response>;

    public sealed record Response(string Range, DateTime Since, string Granularity, IReadOnlyList<Datapoint> Datapoints);

    public sealed record Datapoint
    {
        public Guid InstanceId { get; init; }

        public DateTime Timestamp { get; init; }

        public double CpuPercent { get; init; }

        public long MemUsedBytes { get; init; }

        public long MemTotalBytes { get; init; }

        public long DiskUsedBytes { get; init; }

        public long DiskTotalBytes { get; init; }

        public long? NetBytesSent { get; init; }

        public long? NetBytesRecv { get; init; }

        public double? LoadAvg1 { get; init; }

        public long SampleCount { get; init; }
    }

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Range).Must(MetricRanges.Ranges.ContainsKey).WithMessage(MetricRanges.RangeMessage);
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Select = $"""
            SELECT m.instance_id,
                   date_bin(@Bucket, m.recorded_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS timestamp,
                   round(avg(m.cpu_percent)::numeric, 2)::double precision AS cpu_percent,
                   round(avg(m.mem_used))::bigint AS mem_used_bytes,
                   round(avg(m.mem_total))::bigint AS mem_total_bytes,
                   round(avg(m.disk_used))::bigint AS disk_used_bytes,
                   round(avg(m.disk_total))::bigint AS disk_total_bytes,
                   max(m.net_bytes_sent) AS net_bytes_sent,
                   max(m.net_bytes_recv) AS net_bytes_recv,
                   round(avg(m.load_avg_1)::numeric, 2)::double precision AS load_avg_1,
                   count(*) AS sample_count
            FROM fleet.metrics m
            JOIN fleet.instances i ON i.id = m.instance_id
            WHERE m.recorded_at >= @Since AND m.recorded_at <= @Now
              AND (@InstanceId::uuid IS NULL OR m.instance_id = @InstanceId)
              AND {FleetVisibility.Predicate}
            GROUP BY m.instance_id, 2
            ORDER BY 2, m.instance_id
            LIMIT @MaxPoints
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var (span, bucket, granularity) = MetricRanges.Ranges[query.Range];
            var now = clock.GetUtcNow().UtcDateTime;
            var since = now - span;
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var points = await db.QueryAsync<Datapoint>(
                Select, new { Bucket = bucket, Since = since, Now = now, query.InstanceId, scope.SeesAllTeams, scope.TeamIds, MetricRanges.MaxPoints }, cancellationToken);
            return new Response(query.Range, since, granularity, points);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/metrics/timeseries", async (string? range, Guid? instanceId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(range ?? "1h", instanceId), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetTimeseries))
                .WithTags(FleetRoutes.Metrics)
                .WithSummary("Fleet or instance time series (range 1h/6h/24h/7d)")
                .ProducesErrors(400, 401, 403);
    }
}
