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

/// <summary><c>GET /api/v1/costs/budgets?instanceId=&amp;status=</c> (seed 004): budgets, newest first, with their
/// current spend and status → <c>{budgets, data, total}</c>; <c>status</c> (ok|warning|exceeded) filters.</summary>
public static class ListBudgets
{
    public sealed record Query(Guid? InstanceId, string? Status) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<BudgetView> Budgets, IReadOnlyList<BudgetView> Data, int Total);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() =>
            RuleFor(query => query.Status).Must(status => status is null || status is "ok" or "warning" or "exceeded").WithMessage("status must be one of: ok, warning, exceeded").OverridePropertyName("status");
    }

    internal sealed class Handler(DbSession db, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var budgets = (await db.QueryAsync<Budgets.Row>(
                    $"{Budgets.Select} WHERE (@InstanceId::uuid IS NULL OR b.instance_id = @InstanceId) ORDER BY b.created_at DESC, b.id DESC",
                    Budgets.Parameters(clock.GetUtcNow().UtcDateTime, new { query.InstanceId }),
                    cancellationToken))
                .Select(row => row.ToView())
                .Where(view => query.Status is null || view.Status == query.Status)
                .ToList();
            return new Response(budgets, budgets, budgets.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/costs/budgets", async (Guid? instanceId, string? status, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(instanceId, status?.Trim().ToLowerInvariant()), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListBudgets))
                .WithTags(FleetRoutes.Budgets)
                .WithSummary("List budgets")
                .ProducesErrors(400, 401, 403);
    }
}
