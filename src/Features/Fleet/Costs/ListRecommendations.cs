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

/// <summary><c>GET /api/v1/costs/recommendations?dismissed=true</c> (seed 004): right-sizing recommendations, largest
/// saving first; dismissed ones only with <c>dismissed=true</c> → <c>{recommendations, data, total,
/// totalSavingsUsdMo}</c> (the saving of those not dismissed).</summary>
public static class ListRecommendations
{
    public sealed record Query(bool IncludeDismissed) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<RecommendationView> Recommendations, IReadOnlyList<RecommendationView> Data, int Total, decimal TotalSavingsUsdMo);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.IncludeDismissed).NotNull();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Select = $"""
            SELECT {RecommendationView.Columns}
            FROM fleet.rightsizing_recommendations r JOIN fleet.instances i ON i.id = r.instance_id
            WHERE (@IncludeDismissed OR NOT r.dismissed) AND {FleetVisibility.Predicate}
            ORDER BY r.savings_usd_mo DESC, i.name
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var rows = await db.QueryAsync<RecommendationView>(Select, new { query.IncludeDismissed, scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
            return new Response(rows, rows, rows.Count, rows.Where(row => !row.Dismissed).Sum(row => row.SavingsUsdMo));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/costs/recommendations", async (bool? dismissed, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(dismissed == true), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListRecommendations))
                .WithTags(FleetRoutes.Costs)
                .WithSummary("Right-sizing recommendations")
                .ProducesErrors(400, 401, 403);
    }
}
