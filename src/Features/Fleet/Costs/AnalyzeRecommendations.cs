using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Fleet.Costs;

/// <summary><c>POST /api/v1/costs/recommendations/analyze</c> (seed 004, operators): runs the right-sizing analysis now
/// (<see cref="CostModel.RightSize"/> over each running instance's last 30 days) → <c>{analyzed, generated,
/// skipped}</c>; recommendations of instances no longer under-used are withdrawn.</summary>
public static class AnalyzeRecommendations
{
    public sealed record Command : ICommand<Response>;

    public sealed record Response(int Analyzed, int Generated, int Skipped);

    internal sealed class Handler(DbSession db, IConfiguration configuration, EventHub hub, AuditTrail audit, TimeProvider clock, ILogger<Command> logger) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var outcome = await new CostAnalysis(db, configuration, hub, logger).RecommendAsync(clock.GetUtcNow().UtcDateTime, cancellationToken);
            audit.Record("cost.recommendation.analyze", "fleet", null, null, new { outcome.Analyzed, outcome.Generated, outcome.Skipped });
            return new Response(outcome.Analyzed, outcome.Generated, outcome.Skipped);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/costs/recommendations/analyze", async (IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Command(), cancellationToken)))
                .RequirePermission(Permissions.CostManage)
                .WithName(nameof(AnalyzeRecommendations))
                .WithTags(FleetRoutes.Costs)
                .WithSummary("Trigger analysis")
                .ProducesErrors(401, 403);
    }
}
