using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Drift;

/// <summary><c>GET /api/v1/drift/summary</c> (seed 004): <c>{byStatus: {CLEAN, DRIFTED, UNKNOWN, ERROR}</c> of each
/// instance's latest snapshot, <c>bySeverity: {CRITICAL, HIGH, MEDIUM, LOW}</c> of unresolved events,
/// <c>totalUnresolved, instancesWithDrift, totalSnapshots, recentEvents</c> (the 10 newest unresolved)}.</summary>
public static class GetDriftSummary
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(
        IReadOnlyDictionary<string, long> ByStatus, IReadOnlyDictionary<string, long> BySeverity, long TotalUnresolved, long InstancesWithDrift, long TotalSnapshots,
        IReadOnlyList<DriftEventView> RecentEvents);

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Statuses = $"""
            SELECT latest.drift_status AS key, count(*) AS n FROM (
                SELECT DISTINCT ON (s.instance_id) s.drift_status FROM fleet.config_snapshots s JOIN fleet.instances i ON i.id = s.instance_id
                WHERE {FleetVisibility.Predicate} ORDER BY s.instance_id, s.taken_at DESC, s.id DESC) latest
            GROUP BY latest.drift_status
            """;

        private const string Severities = $"""
            SELECT e.severity AS key, count(*) AS n FROM fleet.drift_events e JOIN fleet.instances i ON i.id = e.instance_id
            WHERE e.resolved_at IS NULL AND {FleetVisibility.Predicate} GROUP BY e.severity
            """;

        private const string Counts = $"""
            SELECT (SELECT count(DISTINCT e.instance_id) FROM fleet.drift_events e JOIN fleet.instances i ON i.id = e.instance_id
                    WHERE e.resolved_at IS NULL AND {FleetVisibility.Predicate}) AS instances,
                   (SELECT count(*) FROM fleet.config_snapshots s JOIN fleet.instances i ON i.id = s.instance_id WHERE {FleetVisibility.Predicate}) AS snapshots
            """;

        private const string Recent = $"""
            SELECT {DriftRows.EventColumns} FROM {DriftRows.EventFrom}
            WHERE e.resolved_at IS NULL AND {FleetVisibility.Predicate}
            ORDER BY e.detected_at DESC, e.id DESC LIMIT 10
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var parameters = new { scope.SeesAllTeams, scope.TeamIds };
            var statuses = (await db.QueryAsync<(string Key, long N)>(Statuses, parameters, cancellationToken)).ToDictionary(row => row.Key, row => row.N);
            var severities = (await db.QueryAsync<(string Key, long N)>(Severities, parameters, cancellationToken)).ToDictionary(row => row.Key, row => row.N);
            var (instances, snapshots) = await db.QuerySingleAsync<(long Instances, long Snapshots)>(Counts, parameters, cancellationToken);
            var recent = (await db.QueryAsync<DriftRows.EventRow>(Recent, parameters, cancellationToken)).Select(row => row.ToView()).ToList();
            return new Response(
                new[] { "CLEAN", "DRIFTED", "UNKNOWN", "ERROR" }.ToDictionary(status => status, status => statuses.GetValueOrDefault(status)),
                new[] { "CRITICAL", "HIGH", "MEDIUM", "LOW" }.ToDictionary(severity => severity, severity => severities.GetValueOrDefault(severity)),
                severities.Values.Sum(), instances, snapshots, recent);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/drift/summary", async (IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetDriftSummary))
                .WithTags(FleetRoutes.Drift)
                .WithSummary("Drift overview with status counts")
                .ProducesErrors(401, 403);
    }
}
