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

namespace Capstan.Features.Fleet.Costs;

/// <summary><c>GET /api/v1/costs/trends?from=&amp;to=&amp;instanceId=&amp;provider=</c> (seed 004): daily spend →
/// <c>{granularity: "day", points: [{date, totalUsd, computeUsd, storageUsd, networkUsd, llmUsd}] (every day of the
/// range, zero when nothing was spent), byProvider: [{date, provider, totalUsd}], byTeam: [{date, teamId, totalUsd}],
/// summary: {totalUsd, computeUsd, storageUsd, networkUsd, llmUsd, periodStart, periodEnd, instanceCount,
/// changePercent}}</c>; <c>changePercent</c> compares with the equally long range before (null when that spent
/// nothing).</summary>
public static class GetCostTrends
{
    public sealed record Query(DateTime? From, DateTime? To, Guid? InstanceId, string? Provider) : IQuery<Response>;

    public sealed record Point(string Date, decimal TotalUsd, decimal ComputeUsd, decimal StorageUsd, decimal NetworkUsd, decimal LlmUsd);

    public sealed record ProviderPoint(string Date, string Provider, decimal TotalUsd);

    public sealed record TeamPoint(string Date, Guid TeamId, decimal TotalUsd);

    public sealed record Summary(
        decimal TotalUsd, decimal ComputeUsd, decimal StorageUsd, decimal NetworkUsd, decimal LlmUsd, DateTime PeriodStart, DateTime PeriodEnd, long InstanceCount, decimal? ChangePercent);

    public sealed record Response(string Granularity, IReadOnlyList<Point> Points, IReadOnlyList<ProviderPoint> ByProvider, IReadOnlyList<TeamPoint> ByTeam, Summary Summary);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Provider).MaximumLength(32).OverridePropertyName("provider");
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Days = $"""
            SELECT to_char(e.period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, {CostSums.Columns}
            FROM {CostWindow.Entries}
            GROUP BY 1
            """;

        private const string Providers = $"""
            SELECT to_char(e.period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS date, e.provider, sum(e.total_usd) AS total_usd
            FROM {CostWindow.Entries}
            GROUP BY 1, 2 ORDER BY 1, 2
            """;

        private const string Teams = $"""
            SELECT to_char(e.period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS date, i.team_id, sum(e.total_usd) AS total_usd
            FROM {CostWindow.Entries} AND i.team_id IS NOT NULL
            GROUP BY 1, 2 ORDER BY 1, 2
            """;

        private const string Totals = $"SELECT {CostSums.Columns}, count(DISTINCT e.instance_id) AS instance_count FROM {CostWindow.Entries}";

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var window = CostWindow.Of(query.From, query.To, query.InstanceId, query.Provider, clock.GetUtcNow().UtcDateTime);
            var parameters = window.Parameters(caller);
            var days = (await db.QueryAsync<DayRow>(Days, parameters, cancellationToken)).ToDictionary(row => row.Day, StringComparer.Ordinal);
            var points = new List<Point>();
            for (var day = window.From.Date; day < window.To; day = day.AddDays(1))
            {
                var key = day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
                points.Add(days.TryGetValue(key, out var row)
                    ? new Point(key, CostModel.Cents(row.TotalUsd), CostModel.Cents(row.ComputeUsd), CostModel.Cents(row.StorageUsd), CostModel.Cents(row.NetworkUsd), CostModel.Cents(row.LlmUsd))
                    : new Point(key, 0, 0, 0, 0, 0));
            }

            var byProvider = (await db.QueryAsync<ProviderPoint>(Providers, parameters, cancellationToken)).Select(row => row with { TotalUsd = CostModel.Cents(row.TotalUsd) }).ToList();
            var byTeam = (await db.QueryAsync<TeamPoint>(Teams, parameters, cancellationToken)).Select(row => row with { TotalUsd = CostModel.Cents(row.TotalUsd) }).ToList();
            var totals = await db.QuerySingleAsync<TotalRow>(Totals, parameters, cancellationToken);
            var previous = await db.QuerySingleAsync<TotalRow>(
                Totals, (window with { From = window.From - (window.To - window.From), To = window.From }).Parameters(caller), cancellationToken);
            decimal? change = previous.TotalUsd > 0 ? Math.Round((totals.TotalUsd - previous.TotalUsd) / previous.TotalUsd * 100, 2) : null;
            return new Response(
                "day", points, byProvider, byTeam,
                new Summary(
                    CostModel.Cents(totals.TotalUsd), CostModel.Cents(totals.ComputeUsd), CostModel.Cents(totals.StorageUsd), CostModel.Cents(totals.NetworkUsd),
                    CostModel.Cents(totals.LlmUsd), window.From, window.To, totals.InstanceCount, change));
        }
    }

    private sealed record DayRow
    {
        public string Day { get; init; } = string.Empty;

        public decimal TotalUsd { get; init; }

        public decimal ComputeUsd { get; init; }

        public decimal StorageUsd { get; init; }

        public decimal NetworkUsd { get; init; }

        public decimal LlmUsd { get; init; }
    }

    private sealed record TotalRow
    {
        public decimal TotalUsd { get; init; }

        public decimal ComputeUsd { get; init; }

        public decimal StorageUsd { get; init; }

        public decimal NetworkUsd { get; init; }

        public decimal LlmUsd { get; init; }

        public long InstanceCount { get; init; }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/costs/trends", async (DateTime? from, DateTime? to, Guid? instanceId, string? provider, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(from, to, instanceId, provider), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetCostTrends))
                .WithTags(FleetRoutes.Costs)
                .WithSummary("Daily cost trend data")
                .ProducesErrors(400, 401, 403);
    }
}
