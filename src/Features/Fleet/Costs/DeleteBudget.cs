using Capstan.Infrastructure.Audit;
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

namespace Capstan.Features.Fleet.Costs;

/// <summary><c>DELETE /api/v1/costs/budgets/{id}</c> (seed 004, operators): deletes the budget and its alert rule (with
/// that rule's alerts) → <c>{message: "Budget deleted", id, name}</c>; 404.</summary>
public static class DeleteBudget
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(string Message, Guid Id, string Name);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        private const string Delete = "DELETE FROM fleet.budgets WHERE id = @Id RETURNING name, alert_rule_id";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var deleted = await db.QuerySingleOrDefaultAsync<Deleted>(Delete, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException($"Budget '{command.Id}' not found");
            if (deleted.AlertRuleId is { } rule)
            {
                await db.ExecuteAsync("DELETE FROM fleet.alert_rules WHERE id = @Rule AND type = 'COST'", new { Rule = rule }, cancellationToken);
            }

            audit.Record("cost.budget.delete", "budget", command.Id.ToString(), deleted.Name);
            return new Response("Budget deleted", command.Id, deleted.Name);
        }

        private sealed record Deleted
        {
            public string Name { get; init; } = string.Empty;

            public Guid? AlertRuleId { get; init; }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/costs/budgets/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.CostManage)
                .WithName(nameof(DeleteBudget))
                .WithTags(FleetRoutes.Budgets)
                .WithSummary("Delete budget")
                .ProducesErrors(400, 401, 403, 404);
    }
}
