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

/// <summary><c>GET /api/v1/metrics/latest</c> (seed 004): the most recent snapshot of each instance named in
/// <c>instanceIds</c> (comma-separated, at most 200), or of every instance not destroyed when omitted, with memory and
/// disk percentages.</summary>
public static class GetLatestMetrics
{
    public sealed record Query(string? InstanceIds) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<Snapshot> Metrics, int Count);

    public sealed record Snapshot
    {
        public Guid InstanceId { get; init; }

        public string InstanceName { get; init; } = string.Empty;

        public DateTime Timestamp { get; init; }

        public double CpuPercent { get; init; }

        public long MemUsed { get; init; }

        public long MemTotal { get; init; }

        public double MemPercent { get; init; }

        public long DiskUsed { get; init; }

        public long DiskTotal { get; init; }

        public double DiskPercent { get; init; }

        public double? LoadAvg1 { get; init; }

        public double? LoadAvg5 { get; init; }

        public double? LoadAvg15 { get; init; }

        public long? NetBytesSent { get; init; }

        public long? NetBytesRecv { get; init; }
    }

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() =>
            RuleFor(query => query.InstanceIds).Must(ids => Parse(ids) is { Length: <= 200 })
                .When(query => !string.IsNullOrWhiteSpace(query.InstanceIds))
                .WithMessage("instanceIds must be a comma-separated list of at most 200 instance ids");
    }

    internal static Guid[]? Parse(string? ids)
    {
        var parts = (ids ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var parsed = new List<Guid>();
        foreach (var part in parts)
        {
            if (!Guid.TryParse(part, out var id))
            {
                return null;
            }

            parsed.Add(id);
        }

        return [.. parsed.Distinct()];
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Select = $"""
            SELECT i.id AS instance_id, i.name AS instance_name, m.recorded_at AS timestamp, m.cpu_percent, m.mem_used, m.mem_total,
                   CASE WHEN m.mem_total > 0 THEN round(m.mem_used * 100.0 / m.mem_total, 2)::double precision ELSE 0 END AS mem_percent,
                   m.disk_used, m.disk_total,
                   CASE WHEN m.disk_total > 0 THEN round(m.disk_used * 100.0 / m.disk_total, 2)::double precision ELSE 0 END AS disk_percent,
                   m.load_avg_1, m.load_avg_5, m.load_avg_15, m.net_bytes_sent, m.net_bytes_recv
            FROM fleet.instances i
            CROSS JOIN LATERAL (
                SELECT * FROM fleet.metrics WHERE instance_id = i.id ORDER BY recorded_at DESC LIMIT 1
            ) m
            WHERE {FleetVisibility.Predicate}
              AND (cardinality(@Ids) = 0 OR i.id = ANY(@Ids))
              AND (cardinality(@Ids) > 0 OR i.status <> 'DESTROYED')
            ORDER BY i.name, i.id
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var snapshots = await db.QueryAsync<Snapshot>(Select, new { Ids = Parse(query.InstanceIds) ?? [], scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
            return new Response(snapshots, snapshots.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/metrics/latest", async (string? instanceIds, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(instanceIds), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetLatestMetrics))
                .WithTags(FleetRoutes.Metrics)
                .WithSummary("Most recent snapshot per instance")
                .ProducesErrors(400, 401, 403);
    }
}
