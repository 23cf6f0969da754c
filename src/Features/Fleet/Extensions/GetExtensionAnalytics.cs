using System.Text.Json.Serialization;
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

namespace Capstan.Features.Fleet.Extensions;

/// <summary><c>GET /api/v1/extensions/{id}/analytics</c> (seed 004): install attempts (<c>total_installs</c>), those
/// still installed (<c>active_installs</c>: not removed, not failed), <c>failed_installs</c>, <c>failure_rate_pct</c>
/// (failed ÷ attempts × 100, two decimals), <c>avg_install_time_ms</c> of successful installs that reported a duration,
/// and a 30-day <c>install_trend</c> (UTC days up to today, zero-filled): successful installs and failures per day.</summary>
public static class GetExtensionAnalytics
{
    public sealed record Query(Guid Id) : IQuery<Response>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    public sealed record Response(
        [property: JsonPropertyName("extension_id")] Guid ExtensionId,
        [property: JsonPropertyName("total_installs")] long TotalInstalls,
        [property: JsonPropertyName("active_installs")] long ActiveInstalls,
        [property: JsonPropertyName("failed_installs")] long FailedInstalls,
        [property: JsonPropertyName("failure_rate_pct")] double FailureRatePct,
        [property: JsonPropertyName("avg_install_time_ms")] double? AvgInstallTimeMs,
        [property: JsonPropertyName("install_trend")] IReadOnlyList<TrendDay> InstallTrend);

    public sealed record TrendDay(
        [property: JsonPropertyName("date")] string Date, [property: JsonPropertyName("installs")] long Installs, [property: JsonPropertyName("failures")] long Failures);

    internal sealed class Handler(DbSession db, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Totals = """
            SELECT count(*) AS total,
                   count(*) FILTER (WHERE removed_at IS NULL AND NOT failed) AS active,
                   count(*) FILTER (WHERE failed) AS failed,
                   avg(install_duration_ms) FILTER (WHERE NOT failed AND install_duration_ms IS NOT NULL)::double precision AS avg_ms
            FROM fleet.extension_usages WHERE extension_id = @Id
            """;

        private const string Trend = """
            SELECT to_char(installed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) FILTER (WHERE NOT failed) AS installs, count(*) FILTER (WHERE failed) AS failures
            FROM fleet.extension_usages
            WHERE extension_id = @Id AND installed_at >= @Since
            GROUP BY 1
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            if (!await db.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM fleet.extensions WHERE id = @Id)", new { query.Id }, cancellationToken))
            {
                throw new NotFoundException($"Extension '{query.Id}' not found");
            }

            var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
            var first = today.AddDays(-29);
            var totals = await db.QuerySingleAsync<TotalsRow>(Totals, new { query.Id }, cancellationToken);
            var days = (await db.QueryAsync<DayRow>(Trend, new { query.Id, Since = first.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc) }, cancellationToken))
                .ToDictionary(row => row.Day, StringComparer.Ordinal);
            var trend = Enumerable.Range(0, 30)
                .Select(offset => first.AddDays(offset).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture))
                .Select(day => days.TryGetValue(day, out var row) ? new TrendDay(day, row.Installs, row.Failures) : new TrendDay(day, 0, 0))
                .ToList();
            var rate = totals.Total == 0 ? 0 : Math.Round(totals.Failed * 100.0 / totals.Total, 2);
            return new Response(query.Id, totals.Total, totals.Active, totals.Failed, rate, totals.AvgMs is { } avg ? Math.Round(avg, 2) : null, trend);
        }

        private sealed record TotalsRow(long Total, long Active, long Failed, double? AvgMs);

        private sealed record DayRow(string Day, long Installs, long Failures);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/extensions/{id}/analytics", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetExtensionAnalytics))
                .WithTags(FleetRoutes.Extensions)
                .WithSummary("Install counts, failure rate, install time and 30-day trend")
                .ProducesErrors(400, 401, 403, 404);
    }
}
