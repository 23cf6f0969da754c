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

/// <summary><c>PUT /api/v1/costs/budgets/{id}</c> (seed 004, operators): a partial change (<see cref="BudgetChange"/>;
/// absent fields stay, <c>instanceId</c>/<c>provider</c> may be set to null) → the budget; its alert rule follows, and a
/// changed amount, period, scope or threshold lets its alert be raised again. 404 unknown budget or instance.</summary>
public static class UpdateBudget
{
    public sealed record Command(BudgetChange Change) : ICommand<BudgetView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() =>
            BudgetRules.Apply(this, command => command.Change.Name, command => command.Change.AmountUsd, command => command.Change.Period, command => command.Change.Provider, command => command.Change.AlertThreshold);
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, BudgetView>
    {
        public Task<BudgetView> Handle(Command command, CancellationToken cancellationToken) =>
            BudgetChanges.ApplyAsync(db, audit, request.RequiredCaller, command.Change, clock.GetUtcNow().UtcDateTime, cancellationToken);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/costs/budgets/{id}", async (Guid id, JsonElement body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(BudgetChange.Parse(id, body)), cancellationToken)))
                .RequirePermission(Permissions.CostManage)
                .WithName(nameof(UpdateBudget))
                .WithTags(FleetRoutes.Budgets)
                .WithSummary("Update budget")
                .ProducesErrors(400, 401, 403, 404);
    }
}
