using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Costs;

/// <summary><c>GET /api/v1/costs/alerts</c> (seed 004): budgets at or past their threshold now, or whose alert was
/// raised → <c>{alerts: [{id: "alert-&lt;budgetId&gt;", budgetId, budgetName, amountUsd, spentUsd, spentPercent, period,
/// status, alertId, firedAt}], total}</c>; <c>alertId</c> is the open COST alert raised for it (null until the cost
/// analysis raises it), <c>firedAt</c> when it fired (else the budget's last change).</summary>
public static class ListBudgetAlerts
{
    public sealed record Query : IQuery<Response>;

    public sealed record BudgetAlert(
        string Id, Guid BudgetId, string BudgetName, decimal AmountUsd, decimal SpentUsd, decimal SpentPercent, string Period, string Status, Guid? AlertId, DateTime FiredAt);

    public sealed record Response(IReadOnlyList<BudgetAlert> Alerts, int Total);

    internal sealed class Handler(DbSession db, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Open = """
            SELECT DISTINCT ON (a.rule_id) a.rule_id, a.id, a.fired_at
            FROM fleet.alerts a WHERE a.rule_id = ANY(@RuleIds) AND a.status IN ('ACTIVE', 'ACKNOWLEDGED')
            ORDER BY a.rule_id, a.fired_at DESC
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var budgets = (await db.QueryAsync<Budgets.Row>($"{Budgets.Select} ORDER BY b.created_at, b.id", Budgets.Parameters(clock.GetUtcNow().UtcDateTime), cancellationToken))
                .Where(budget => budget.AlertSent || budget.Status != "ok")
                .ToList();
            var open = (await db.QueryAsync<OpenRow>(Open, new { RuleIds = budgets.Where(budget => budget.AlertRuleId is not null).Select(budget => budget.AlertRuleId!.Value).ToArray() }, cancellationToken))
                .ToDictionary(row => row.RuleId);
            var alerts = budgets
                .Select(budget =>
                {
                    var view = budget.ToView();
                    var alert = budget.AlertRuleId is { } rule && open.TryGetValue(rule, out var row) ? row : null;
                    return new BudgetAlert(
                        $"alert-{budget.Id}", budget.Id, budget.Name, budget.AmountUsd, view.SpentUsd, view.SpentPercent, budget.Period, view.Status, alert?.Id, alert?.FiredAt ?? budget.UpdatedAt);
                })
                .OrderByDescending(alert => alert.SpentPercent)
                .ToList();
            return new Response(alerts, alerts.Count);
        }

        private sealed record OpenRow
        {
            public Guid RuleId { get; init; }

            public Guid Id { get; init; }

            public DateTime FiredAt { get; init; }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/costs/alerts", async (IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListBudgetAlerts))
                .WithTags(FleetRoutes.Costs)
                .WithSummary("Budget alerts for exceeded thresholds")
                .ProducesErrors(401, 403);
    }
}
