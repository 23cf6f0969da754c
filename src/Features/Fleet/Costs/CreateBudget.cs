using System.Text.Json;
using Capstan.Infrastructure.Audit;
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

/// <summary><c>POST /api/v1/costs/budgets</c> (seed 004, operators): <c>{name 1..128, amountUsd &gt; 0, period
/// DAILY|WEEKLY|MONTHLY, instanceId?, provider?, alertThreshold? 0.01..1.0 (0.8)}</c> → 201 budget with its current
/// spend and status. The budget gets a COST alert rule (<c>alertRuleId</c>) its alerts are raised under; an unknown
/// instance is a 404.</summary>
public static class CreateBudget
{
    public sealed record Command(string? Name, decimal? AmountUsd, string? Period, Guid? InstanceId, string? Provider, decimal? AlertThreshold) : ICommand<BudgetView>
    {
        public static Command Parse(JsonElement body)
        {
            var change = BudgetChange.Parse(Guid.Empty, body);
            return new Command(change.Name, change.AmountUsd, change.Period, change.InstanceId, change.Provider, change.AlertThreshold);
        }
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().WithMessage("name is required").OverridePropertyName("name");
            RuleFor(command => command.AmountUsd).NotNull().WithMessage("amountUsd is required").OverridePropertyName("amountUsd");
            RuleFor(command => command.Period).NotEmpty().WithMessage("period is required").OverridePropertyName("period");
            BudgetRules.Apply(this, command => command.Name, command => command.AmountUsd, command => command.Period, command => command.Provider, command => command.AlertThreshold);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, BudgetView>
    {
        private const string Insert = """
            INSERT INTO fleet.budgets (id, name, amount_usd, period, instance_id, provider, alert_threshold, alert_rule_id, created_by, created_at, updated_at)
            VALUES (@Id, @Name, @AmountUsd, @Period, @InstanceId, @Provider, @AlertThreshold, @RuleId, @CreatedBy, @Now, @Now)
            """;

        public async Task<BudgetView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var now = clock.GetUtcNow().UtcDateTime;
            if (command.InstanceId is { } instance)
            {
                await BudgetChanges.RequireInstanceAsync(db, caller, instance, cancellationToken);
            }

            var id = Guid.CreateVersion7();
            var name = command.Name!.Trim();
            var period = Budgets.NormalisePeriod(command.Period)!;
            var threshold = command.AlertThreshold ?? 0.8m;
            var ruleId = await Budgets.CreateRuleAsync(db, id, name, command.AmountUsd!.Value, period, threshold, command.InstanceId, caller.UserId, now, cancellationToken);
            await db.ExecuteAsync(
                Insert,
                new
                {
                    Id = id,
                    Name = name,
                    AmountUsd = command.AmountUsd,
                    Period = period,
                    command.InstanceId,
                    Provider = command.Provider?.Trim().ToLowerInvariant(),
                    AlertThreshold = threshold,
                    RuleId = ruleId,
                    CreatedBy = caller.UserId,
                    Now = now,
                },
                cancellationToken);
            var view = (await db.QuerySingleAsync<Budgets.Row>($"{Budgets.Select} WHERE b.id = @Id", Budgets.Parameters(now, new { Id = id }), cancellationToken)).ToView();
            audit.Record("cost.budget.create", "budget", id.ToString(), name, new { view.AmountUsd, view.Period, view.InstanceId, view.Provider, view.AlertThreshold, ruleId });
            return view;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/costs/budgets", async (JsonElement body, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var budget = await mediator.Send(Command.Parse(body), cancellationToken);
                    return TypedResults.Created($"/api/v1/costs/budgets/{budget.Id}", budget);
                })
                .Accepts<Command>("application/json")
                .RequirePermission(Permissions.CostManage)
                .WithName(nameof(CreateBudget))
                .WithTags(FleetRoutes.Budgets)
                .WithSummary("Create budget")
                .ProducesErrors(400, 401, 403, 404);
    }
}
