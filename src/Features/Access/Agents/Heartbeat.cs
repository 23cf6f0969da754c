using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Access.Agents;

/// <summary><c>POST /api/v1/agents/{id}/heartbeat</c> (seed 003, agent): 204; records <c>last_seen_at</c> and brings a
/// stale agent back to active (revoked agents never get this far). Rate limited per agent.</summary>
public static class Heartbeat
{
    [NotAudited("heartbeats arrive every 30 seconds per agent; last_seen_at records them")]
    public sealed record Command : ICommand<Unit>;

    internal sealed class Handler(DbSession db, RequestContext request, RateLimiter rateLimiter, IConfiguration configuration) : IRequestHandler<Command, Unit>
    {
        private const string Touch = """
            UPDATE access.agents
            SET last_seen_at = now(), status = CASE WHEN status = 'stale' THEN 'active' ELSE status END, updated_at = now()
            WHERE id = @Id AND status <> 'revoked'
            """;

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var agent = request.RequiredAgent;
            await rateLimiter.EnforceAsync(
                $"access.agent-heartbeat:{agent.Id}",
                new RateLimitRule(configuration.GetValue("Access:HeartbeatRateLimit:PermitPerMinute", 12), TimeSpan.FromMinutes(1)),
                cancellationToken);
            await db.ExecuteAsync(Touch, new { agent.Id }, cancellationToken);
            return Unit.Value;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/agents/{id}/heartbeat", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequireAgent()
                .WithName(nameof(Heartbeat))
                .WithTags(AccessRoutes.AgentApi)
                .WithSummary("Agent heartbeat")
                .ProducesErrors(400, 401, 429);
    }
}
