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

/// <summary><c>POST /api/v1/costs/recommendations/{id}/dismiss</c> (seed 004, operators): hides the recommendation
/// until the analysis suggests a different tier → the recommendation with <c>dismissed: true</c>; dismissing twice is
/// harmless; 404.</summary>
public static class DismissRecommendation
{
    public sealed record Command(Guid Id) : ICommand<RecommendationView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, RecommendationView>
    {
        private const string Dismiss = $"""
            UPDATE fleet.rightsizing_recommendations r
            SET dismissed = true, dismissed_by = COALESCE(r.dismissed_by, @UserId), dismissed_at = COALESCE(r.dismissed_at, @Now)
            FROM fleet.instances i
            WHERE r.id = @Id AND i.id = r.instance_id AND {FleetVisibility.Predicate}
            RETURNING {RecommendationView.Columns}
            """;

        public async Task<RecommendationView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var scope = FleetVisibility.Of(caller);
            var view = await db.QuerySingleOrDefaultAsync<RecommendationView>(
                    Dismiss, new { command.Id, caller.UserId, Now = clock.GetUtcNow().UtcDateTime, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Recommendation '{command.Id}' not found");
            audit.Record("cost.recommendation.dismiss", "instance", view.InstanceId.ToString(), view.InstanceName, new { recommendationId = view.Id, view.SuggestedTier, view.SavingsUsdMo });
            return view;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/costs/recommendations/{id}/dismiss", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.CostManage)
                .WithName(nameof(DismissRecommendation))
                .WithTags(FleetRoutes.Costs)
                .WithSummary("Dismiss recommendation")
                .ProducesErrors(400, 401, 403, 404);
    }
}
