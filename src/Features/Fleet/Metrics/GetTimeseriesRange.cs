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

/// <summary><c>GET /api/v1/metrics/timeseries/range</c> (seed 004): metrics between <c>from</c> and <c>to</c> (ISO-8601,
/// both required, from before to) at <c>granularity</c> raw, 1m, 5m, 1h or 1d (1m by default: averages per bucket and
/// instance), oldest first, at most <c>limit</c> 1..2000 (500) points, optionally for one <c>instanceId</c>.</summary>
public static class GetTimeseriesRange
{
    public sealed record Query(DateTimeOffset? From, DateTimeOffset? To, string Granularity, int Limit, Guid? InstanceId) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<Point> Points, Meta Meta);

    public sealed record Meta(Guid? InstanceId, DateTime From, DateTime To, string Granularity, int Count);

    public sealed record Point
    {
        public DateTime Timestamp { get; init; }

        public Guid InstanceId { get; init; }

        public double CpuPercent { get; init; }

        public long MemUsed { get; init; }

        public long MemTotal { get; init; }

        public long DiskUsed { get; init; }

        public long DiskTotal { get; init; }

        public double? LoadAvg1 { get; init; }

        public double? LoadAvg5 { get; init; }

        public double? LoadAvg15 { get; init; }

        public long? NetBytesSent { get; init; }

        public long? NetBytesRecv { get; init; }

        public long SampleCount { get; init; }
    }

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.From).NotNull().WithMessage("from is required (ISO-8601)");
            RuleFor(query => query.To).NotNull().WithMessage("to is required (ISO-8601)");
            RuleFor(query => query.To).Must((query, to) => to > query.From).When(query => query.From is not null && query.To is not null)
                .WithMessage("to must be after from");
            RuleFor(query => query.Granularity).Must(MetricRanges.Granularities.ContainsKey).WithMessage("granularity must be one of: raw, 1m, 5m, 1h, 1d");
            RuleFor(query => query.Limit).InclusiveBetween(1, 2000).WithMessage("limit must be between 1 and 2000");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Raw = $"""
            SELECT m.recorded_at AS timestamp, m.instance_id, m.cpu_percent, m.mem_used, m.mem_total, m.disk_used, m.disk_total,
                   m.load_avg_1, m.load_avg_5, m.load_avg_15, m.net_bytes_sent, m.net_bytes_recv, 1::bigint AS sample_count
            FROM fleet.metrics m
            JOIN fleet.instances i ON i.id = m.instance_id
            WHERE m.recorded_at >= @From AND m.recorded_at < @To
              AND (@InstanceId::uuid IS NULL OR m.instance_id = @InstanceId)
              AND {FleetVisibility.Predicate}
            ORDER BY m.recorded_at, m.instance_id
            LIMIT @Limit
            """;

        private const string Bucketed = $"""
            SELECT date_bin(@Bucket, m.recorded_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS timestamp, m.instance_id,
                   round(avg(m.cpu_percent)::numeric, 2)::double precision AS cpu_percent,
                   round(avg(m.mem_used))::bigint AS mem_used, round(avg(m.mem_total))::bigint AS mem_total,
                   round(avg(m.disk_used))::bigint AS disk_used, round(avg(m.disk_total))::bigint AS disk_total,
                   round(avg(m.load_avg_1)::numeric, 2)::double precision AS load_avg_1,
                   round(avg(m.load_avg_5)::numeric, 2)::double precision AS load_avg_5,
                   round(avg(m.load_avg_15)::numeric, 2)::double precision AS load_avg_15,
                   max(m.net_bytes_sent) AS net_bytes_sent, max(m.net_bytes_recv) AS net_bytes_recv,
                   count(*) AS sample_count
            FROM fleet.metrics m
            JOIN fleet.instances i ON i.id = m.instance_id
            WHERE m.recorded_at >= @From AND m.recorded_at < @To
              AND (@InstanceId::uuid IS NULL OR m.instance_id = @InstanceId)
              AND {FleetVisibility.Predicate}
            GROUP BY 1, m.instance_id
            ORDER BY 1, m.instance_id
            LIMIT @Limit
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var bucket = MetricRanges.Granularities[query.Granularity];
            var from = query.From!.Value.UtcDateTime;
            var to = query.To!.Value.UtcDateTime;
            var points = await db.QueryAsync<Point>(
                bucket is null ? Raw : Bucketed,
                new { Bucket = bucket, From = from, To = to, query.InstanceId, query.Limit, scope.SeesAllTeams, scope.TeamIds },
                cancellationToken);
            return new Response(points, new Meta(query.InstanceId, from, to, query.Granularity, points.Count));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/metrics/timeseries/range",
                    async (DateTimeOffset? from, DateTimeOffset? to, string? granularity, int? limit, Guid? instanceId, IMediator mediator, CancellationToken cancellationToken) =>
                        TypedResults.Ok(await mediator.Send(new Query(from, to, granularity ?? "1m", limit ?? 500, instanceId), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetTimeseriesRange))
                .WithTags(FleetRoutes.Metrics)
                .WithSummary("Time series between from and to at a granularity")
                .ProducesErrors(400, 401, 403);
    }
}
