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

namespace Capstan.Features.Identity;

/// <summary><c>POST /api/v1/auth/logout</c> (seeds 000, 001): ends the caller's session (so its cookie and JWT stop
/// working at once) and clears the cookies; <c>{"all": true}</c> ends every session of the user. An API key has no
/// session: it stays valid (revoke it instead), unless <c>all</c> asks for the sessions to end.</summary>
public static class Logout
{
    public sealed record Command(bool All = false) : ICommand<Response>;

    public sealed record Response(bool Success, int SessionsEnded);

    internal sealed class Validator : AbstractValidator<Command>
    {
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string EndOne = """
            UPDATE identity.sessions SET revoked_at = @Now WHERE id = @SessionId AND user_id = @UserId AND revoked_at IS NULL
            """;

        private const string EndAll = """
            UPDATE identity.sessions SET revoked_at = @Now WHERE user_id = @UserId AND revoked_at IS NULL
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var now = clock.GetUtcNow().UtcDateTime;
            var ended = command.All
                ? await db.ExecuteAsync(EndAll, new { caller.UserId, Now = now }, cancellationToken)
                : caller.SessionId is { } sessionId
                    ? await db.ExecuteAsync(EndOne, new { SessionId = sessionId, caller.UserId, Now = now }, cancellationToken)
                    : 0;
            audit.Record("auth.logout", "user", caller.UserId.ToString(), caller.Username, new { all = command.All, sessions_ended = ended });
            return new Response(true, ended);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/auth/logout", async (HttpContext context, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var command = await ReadOptionalBodyAsync(context, cancellationToken);
                    var response = await mediator.Send(command, cancellationToken);
                    SessionCookies.Clear(context);
                    return TypedResults.Ok(response);
                })
                .RequirePermission(Permissions.ProfileEdit)
                .WithName(nameof(Logout))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("Sign out (this session, or all sessions with {\"all\": true})")
                .Accepts<Command>("application/json")
                .Produces<Response>()
                .ProducesErrors(400, 401, 403);

        // The body is optional: a plain POST signs out this session.
        private static async Task<Command> ReadOptionalBodyAsync(HttpContext context, CancellationToken cancellationToken)
        {
            if (context.Request.ContentLength is 0 or null && !context.Request.HasJsonContentType())
            {
                return new Command();
            }

            return await context.Request.ReadFromJsonAsync<Command>(cancellationToken) ?? new Command();
        }
    }
}
