using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
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

/// <summary><c>GET /api/v1/instances/{id}/metrics</c> (seed 004): one instance's time series over <c>range</c> 1h, 6h,
/// 24h or 7d, averaged per bucket (1m, 5m, 15m, 1h), oldest first; 404 for an unknown instance.</summary>
public static class GetInstanceMetrics
{
    public sealed record Query(Guid Id, string Range) : IQuery<Response>;

    public sealed record Response(Guid InstanceId, string Range, DateTime Since, string Granularity, IReadOnlyList<Datapoint> Datapoints);

    public sealed record Datapoint
    {
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
        public Validator()
        {
            RuleFor(query => query.Id).NotEmpty();
            RuleFor(query => query.Range).Must(MetricRanges.Ranges.ContainsKey).WithMessage(MetricRanges.RangeMessage);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Exists = $"SELECT EXISTS (SELECT 1 FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate})";

        private const string Select = $"""
            SELECT date_bin(@Bucket, recorded_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS timestamp,
                   round(avg(cpu_percent)::numeric, 2)::double precision AS cpu_percent,
                   round(avg(mem_used))::bigint AS mem_used_bytes,
                   round(avg(mem_total))::bigint AS mem_total_bytes,
                   round(avg(disk_used))::bigint AS disk_used_bytes,
                   round(avg(disk_total))::bigint AS disk_total_bytes,
                   max(net_bytes_sent) AS net_bytes_sent,
                   max(net_bytes_recv) AS net_bytes_recv,
                   round(avg(load_avg_1)::numeric, 2)::double precision AS load_avg_1,
                   count(*) AS sample_count
            FROM fleet.metrics
            WHERE instance_id = @Id AND recorded_at >= @Since AND recorded_at <= @Now
            GROUP BY 1
            ORDER BY 1
            LIMIT @MaxPoints
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            if (!await db.ExecuteScalarAsync<bool>(Exists, new { query.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken))
            {
                throw new NotFoundException($"Instance '{query.Id}' not found");
            }

            var (span, bucket, granularity) = MetricRanges.Ranges[query.Range];
            var now = clock.GetUtcNow().UtcDateTime;
            var since = now - span;
            var points = await db.QueryAsync<Datapoint>(Select, new { query.Id, Bucket = bucket, Since = since, Now = now, MetricRanges.MaxPoints }, cancellationToken);
            return new Response(query.Id, query.Range, since, granularity, points);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/instances/{id}/metrics", async (Guid id, string? range, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id, range ?? "1h"), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetInstanceMetrics))
                .WithTags(FleetRoutes.Metrics)
                .WithSummary("Instance-scoped time series")
                .ProducesErrors(400, 401, 403, 404);
    }
}
