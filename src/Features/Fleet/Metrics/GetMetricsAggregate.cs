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

/// <summary><c>GET /api/v1/metrics/aggregate</c> (seed 004): per instance, average and maximum CPU, memory and disk,
/// average load and the sample count between <c>from</c> and <c>to</c> (both required), optionally for one
/// <c>instanceId</c>.</summary>
public static class GetMetricsAggregate
{
    public sealed record Query(DateTimeOffset? From, DateTimeOffset? To, Guid? InstanceId) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<Aggregate> Aggregates, Meta Meta);

    public sealed record Meta(Guid? InstanceId, DateTime From, DateTime To, int Count);

    public sealed record Aggregate
    {
        public Guid InstanceId { get; init; }

        public string InstanceName { get; init; } = string.Empty;

        public DateTime From { get; init; }

        public DateTime To { get; init; }

        public double AvgCpuPercent { get; init; }

        public double MaxCpuPercent { get; init; }

        public long AvgMemUsed { get; init; }

        public long MaxMemUsed { get; init; }

        public long AvgDiskUsed { get; init; }

        public long MaxDiskUsed { get; init; }

        public double? AvgLoadAvg1 { get; init; }

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
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Select = $"""
            SELECT m.instance_id, i.name AS instance_name, @From AS "from", @To AS "to",
                   round(avg(m.cpu_percent)::numeric, 2)::double precision AS avg_cpu_percent,
                   max(m.cpu_percent) AS max_cpu_percent,
                   round(avg(m.mem_used))::bigint AS avg_mem_used, max(m.mem_used) AS max_mem_used,
                   round(avg(m.disk_used))::bigint AS avg_disk_used, max(m.disk_used) AS max_disk_used,
                   round(avg(m.load_avg_1)::numeric, 2)::double precision AS avg_load_avg_1,
                   count(*) AS sample_count
            FROM fleet.metrics m
            JOIN fleet.instances i ON i.id = m.instance_id
            WHERE m.recorded_at >= @From AND m.recorded_at < @To
              AND (@InstanceId::uuid IS NULL OR m.instance_id = @InstanceId)
              AND {FleetVisibility.Predicate}
            GROUP BY m.instance_id, i.name
            ORDER BY i.name, m.instance_id
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var from = query.From!.Value.UtcDateTime;
            var to = query.To!.Value.UtcDateTime;
            var aggregates = await db.QueryAsync<Aggregate>(Select, new { From = from, To = to, query.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
            return new Response(aggregates, new Meta(query.InstanceId, from, to, aggregates.Count));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/metrics/aggregate", async (DateTimeOffset? from, DateTimeOffset? to, Guid? instanceId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(from, to, instanceId), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetMetricsAggregate))
                .WithTags(FleetRoutes.Metrics)
                .WithSummary("Aggregate statistics over a time window")
                .ProducesErrors(400, 401, 403);
    }
}
