using System.Text.Json.Serialization;
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

namespace Capstan.Features.Identity;

/// <summary><c>POST /api/v1/ws/ticket</c> (seed 004): <c>{ticket, expires_in: 30}</c>. The ticket authenticates one
/// WebSocket upgrade (<c>?ticket=</c>) within 30 seconds, once, on any replica. At most 30 per minute per user.</summary>
public static class CreateWebSocketTicket
{
    public const int LifetimeSeconds = 30;

    public sealed record Command : ICommand<Response>;

    public sealed record Response(string Ticket, [property: JsonPropertyName("expires_in")] int ExpiresIn);

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, RateLimiter rateLimiter, IConfiguration configuration, TimeProvider clock)
        : IRequestHandler<Command, Response>
    {
        private const string Insert = """
            INSERT INTO identity.ws_tickets (ticket_hash, user_id, created_at, expires_at) VALUES (@Hash, @UserId, @Now, @ExpiresAt)
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var limit = new RateLimitRule(configuration.GetValue("Identity:TicketRateLimit:PermitPerMinute", 30), TimeSpan.FromMinutes(1));
            await rateLimiter.EnforceAsync($"ws-ticket:{caller.UserId}", limit, cancellationToken);

            var ticket = SecretTokens.GenerateHex();
            var now = clock.GetUtcNow();
            await db.ExecuteAsync(
                Insert,
                new { Hash = SecretTokens.Hash(ticket), caller.UserId, Now = now.UtcDateTime, ExpiresAt = now.AddSeconds(LifetimeSeconds).UtcDateTime },
                cancellationToken);
            audit.Record("ws_ticket.create", "user", caller.UserId.ToString(), caller.Username);
            return new Response(ticket, LifetimeSeconds);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/ws/ticket", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(), cancellationToken)))
                .RequirePermission(Permissions.WebSocketTicketCreate)
                .WithName(nameof(CreateWebSocketTicket))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("Issue a single-use 30-second WebSocket ticket")
                .ProducesErrors(401, 403, 429);
    }
}
