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

/// <summary><c>GET /api/v1/costs/budgets/{id}</c> (seed 004): the budget with its current spend and status; 404.</summary>
public static class GetBudget
{
    public sealed record Query(Guid Id) : IQuery<BudgetView>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, TimeProvider clock) : IRequestHandler<Query, BudgetView>
    {
        public async Task<BudgetView> Handle(Query query, CancellationToken cancellationToken) =>
            (await db.QuerySingleOrDefaultAsync<Budgets.Row>($"{Budgets.Select} WHERE b.id = @Id", Budgets.Parameters(clock.GetUtcNow().UtcDateTime, new { query.Id }), cancellationToken)
                ?? throw new NotFoundException($"Budget '{query.Id}' not found")).ToView();
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/costs/budgets/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetBudget))
                .WithTags(FleetRoutes.Budgets)
                .WithSummary("Budget detail")
                .ProducesErrors(400, 401, 403, 404);
    }
}
