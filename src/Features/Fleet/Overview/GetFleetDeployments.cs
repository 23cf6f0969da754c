using System.Globalization;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Overview;

/// <summary><c>GET /api/v1/fleet/deployments</c> (seed 004; snake_case as the upstream's dashboard reads it): the last
/// 24 hours of deployments hour by hour (oldest first, the current hour last), with failures, the total and the share
/// that succeeded (1 when there were none). Deployments of instances since destroyed are left out.</summary>
public static class GetFleetDeployments
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(
        [property: JsonPropertyName("activity")] IReadOnlyList<Hour> Activity,
        [property: JsonPropertyName("total_24h")] long Total24h,
        [property: JsonPropertyName("succeeded_24h")] long Succeeded24h,
        [property: JsonPropertyName("failed_24h")] long Failed24h,
        [property: JsonPropertyName("success_rate")] double SuccessRate);

    public sealed record Hour(
        [property: JsonPropertyName("hour")] string Start,
        [property: JsonPropertyName("deployments")] long Deployments,
        [property: JsonPropertyName("failures")] long Failures);

    internal sealed class Handler(DbSession db, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Counts = """
            SELECT date_trunc('hour', d.started_at, 'UTC') AS hour, count(*) AS deployments,
                   count(*) FILTER (WHERE d.status = 'FAILED') AS failures, count(*) FILTER (WHERE d.status = 'SUCCEEDED') AS succeeded
            FROM fleet.deployments d
            LEFT JOIN fleet.instances i ON i.id = d.instance_id
            WHERE d.started_at >= @Since AND d.started_at < @Until AND (i.status IS NULL OR i.status <> 'DESTROYED')
            GROUP BY 1
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow().UtcDateTime;
            var current = new DateTime(now.Year, now.Month, now.Day, now.Hour, 0, 0, DateTimeKind.Utc);
            var since = current.AddHours(-23);
            var counts = (await db.QueryAsync<Count>(Counts, new { Since = since, Until = current.AddHours(1) }, cancellationToken))
                .ToDictionary(count => DateTime.SpecifyKind(count.Hour, DateTimeKind.Utc));
            var hours = Enumerable.Range(0, 24).Select(offset => since.AddHours(offset)).Select(hour => counts.TryGetValue(hour, out var count)
                ? new Hour(Format(hour), count.Deployments, count.Failures)
                : new Hour(Format(hour), 0, 0)).ToList();
            var total = counts.Values.Sum(count => count.Deployments);
            var succeeded = counts.Values.Sum(count => count.Succeeded);
            return new Response(hours, total, succeeded, counts.Values.Sum(count => count.Failures), total == 0 ? 1 : Math.Round((double)succeeded / total, 4));
        }

        private static string Format(DateTime hour) => hour.ToString("yyyy-MM-dd'T'HH':00:00.000Z'", CultureInfo.InvariantCulture);
    }

    internal sealed record Count
    {
        public DateTime Hour { get; init; }

        public long Deployments { get; init; }

        public long Failures { get; init; }

        public long Succeeded { get; init; }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/fleet/deployments", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetFleetDeployments))
                .WithTags(FleetRoutes.Fleet)
                .WithSummary("24-hour deployment activity timeline")
                .ProducesErrors(401, 403);
    }
}
