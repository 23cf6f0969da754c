using System.Globalization;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Delivery.Dashboard;

/// <summary>
/// <c>GET /v1/api/dashboard/stats</c> (seed 002, reference §12): the caller's own figures (the upstream's were
/// platform-wide) — workflows, published workflows, runs and success rate, each <c>{value, change, trend}</c> with
/// <c>value</c> as text. The change compares with the figures last seen in the previous month (percent; percentage
/// points for the rate), 0 and <c>neutral</c> when there is none: every call records this month's figures.
/// </summary>
public static class GetDashboardStats
{
    /// <summary>A command behind a GET: computing the figures records this month's snapshot.</summary>
    [NotAudited("reading one's own dashboard only records the month's figures")]
    public sealed record Command : ICommand<Response>;

    public sealed record Stat(
        [property: JsonPropertyName("value")] string Value,
        [property: JsonPropertyName("change")] double Change,
        [property: JsonPropertyName("trend")] string Trend);

    public sealed record Response(
        [property: JsonPropertyName("total_workflows")] Stat TotalWorkflows,
        [property: JsonPropertyName("published_workflows")] Stat PublishedWorkflows,
        [property: JsonPropertyName("total_runs")] Stat TotalRuns,
        [property: JsonPropertyName("success_rate")] Stat SuccessRate,
        [property: JsonPropertyName("month")] string Month,
        [property: JsonPropertyName("last_computed_at")] DateTime LastComputedAt);

    public sealed class Figures
    {
        public long TotalWorkflows { get; init; }

        public long PublishedWorkflows { get; init; }

        public long TotalRuns { get; init; }

        public double SuccessRate { get; init; }
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Current = """
            SELECT count(*) AS total_workflows,
                   count(*) FILTER (WHERE status = 'published') AS published_workflows,
                   COALESCE(sum(run_count), 0)::bigint AS total_runs,
                   CASE WHEN COALESCE(sum(run_count), 0) = 0 THEN 0
                        ELSE round(sum(success_count)::numeric * 100 / sum(run_count), 1)::double precision END AS success_rate
            FROM delivery.workflows WHERE owner_id = @UserId AND deleted_at IS NULL
            """;

        private const string Record = """
            INSERT INTO delivery.dashboard_snapshots (user_id, month, total_workflows, published_workflows, total_runs, success_rate, computed_at)
            VALUES (@UserId, @Month, @TotalWorkflows, @PublishedWorkflows, @TotalRuns, @SuccessRate, @Now)
            ON CONFLICT (user_id, month) DO UPDATE SET total_workflows = EXCLUDED.total_workflows, published_workflows = EXCLUDED.published_workflows,
                total_runs = EXCLUDED.total_runs, success_rate = EXCLUDED.success_rate, computed_at = EXCLUDED.computed_at
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var userId = request.RequiredCaller.UserId;
            var now = clock.GetUtcNow().UtcDateTime;
            var month = now.ToString("yyyy-MM", CultureInfo.InvariantCulture);
            var current = await db.QuerySingleAsync<Figures>(Current, new { UserId = userId }, cancellationToken);
            var previous = await db.QuerySingleOrDefaultAsync<Figures>(
                "SELECT total_workflows, published_workflows, total_runs, success_rate FROM delivery.dashboard_snapshots WHERE user_id = @UserId AND month < @Month ORDER BY month DESC LIMIT 1",
                new { UserId = userId, Month = month },
                cancellationToken);
            await db.ExecuteAsync(Record, new { UserId = userId, Month = month, current.TotalWorkflows, current.PublishedWorkflows, current.TotalRuns, current.SuccessRate, Now = now }, cancellationToken);
            return new Response(
                Count(current.TotalWorkflows, previous?.TotalWorkflows),
                Count(current.PublishedWorkflows, previous?.PublishedWorkflows),
                Count(current.TotalRuns, previous?.TotalRuns),
                Rate(current.SuccessRate, previous?.SuccessRate),
                month,
                now);
        }

        private static Stat Count(long value, long? previous)
        {
            var text = value.ToString(CultureInfo.InvariantCulture);
            if (previous is not { } before)
            {
                return new Stat(text, 0, "neutral");
            }

            var change = before == 0 ? (value > 0 ? 100 : 0) : Math.Round((value - before) * 100.0 / before, 1);
            return new Stat(text, change, Trend(change));
        }

        private static Stat Rate(double value, double? previous)
        {
            var text = value.ToString("0.0", CultureInfo.InvariantCulture) + "%";
            if (previous is not { } before)
            {
                return new Stat(text, 0, "neutral");
            }

            var change = Math.Round(value - before, 1);
            return new Stat(text, change, Trend(change));
        }

        private static string Trend(double change) => change > 0 ? "up" : change < 0 ? "down" : "neutral";
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/dashboard/stats", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(GetDashboardStats))
                .WithTags(DeliveryRoutes.Dashboard)
                .WithSummary("Get dashboard statistics")
                .ProducesErrors(401, 403);
    }
}
