using System.Text.Json.Serialization;
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
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Identity.Accounts;

/// <summary>
/// <c>POST /v1/api/auth/refresh</c> (seed 002, KubeOrch §4): <c>Authorization: Bearer &lt;token&gt;</c> and no body →
/// <c>{token, expires_at, user}</c>. The token's signature must hold; it may have expired up to
/// <c>Identity:RefreshGraceDays</c> (7) ago, and its server-side session must still be live (a logout ends refreshing
/// too). The new token belongs to the same session, which slides. 401 with KubeOrch's messages otherwise.
/// </summary>
public static class RefreshToken
{
    public sealed record Command(string Token) : ICommand<Response>;

    public sealed record Response(string Token, [property: JsonPropertyName("expires_at")] DateTimeOffset ExpiresAt, UserView User);

    public sealed record UserView(Guid Id, string Username, string? Email, string Name, string Role, string? AvatarUrl, DateTime CreatedAt, string AuthProvider);

    // Every malformed token is a 401 "Invalid token", answered by the handler, not a 400.
    internal sealed class Validator : AbstractValidator<Command>
    {
    }

    internal sealed class Handler(DbSession db, SessionTokens tokens, CredentialStore credentials, SessionIssuer sessions, AuditTrail audit, IConfiguration configuration)
        : IRequestHandler<Command, Response>
    {
        private const string LoadUser = """
            SELECT id, username, email, name, role, avatar_url, created_at, auth_provider FROM identity.users WHERE id = @UserId
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var grace = TimeSpan.FromDays(configuration.GetValue("Identity:RefreshGraceDays", 7));
            var claims = command.Token.Length <= 8192 && SessionTokens.LooksLikeJwt(command.Token) ? await tokens.ReadAsync(command.Token, grace) : null;
            var check = claims is null ? null : await credentials.FromSessionAsync(claims.SessionId, claims.UserId, cancellationToken);
            if (claims is null || check?.Caller is not { } caller)
            {
                await audit.WriteNowAsync(
                    new AuditEntry("auth.refresh", "user", claims?.UserId.ToString(), null, new { error_kind = claims is null ? "invalid_token" : "session_ended" }, AuditResult.Denied),
                    cancellationToken);
                throw new UnauthorizedException("Invalid token");
            }

            var user = await db.QuerySingleAsync<UserView>(LoadUser, new { caller.UserId }, cancellationToken);
            var (jwt, expiresAt) = sessions.Reissue(caller.UserId, caller.Username, caller.Role, claims.SessionId, check.ExpiresAt ?? claims.ExpiresAt);
            audit.Record(new AuditEntry("auth.refresh", "user", caller.UserId.ToString(), caller.Username)
            {
                ActorType = "user",
                ActorId = caller.UserId,
                ActorName = caller.Username,
            });
            return new Response(jwt, expiresAt, user);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/auth/refresh", async (HttpContext context, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var authorization = context.Request.Headers.Authorization.ToString();
                    if (authorization.Length == 0)
                    {
                        throw new UnauthorizedException("Authorization header is required");
                    }

                    if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                    {
                        throw new UnauthorizedException("Authorization header must start with 'Bearer '");
                    }

                    return TypedResults.Ok(await mediator.Send(new Command(authorization[7..].Trim()), cancellationToken));
                })
                .AllowAnonymous() // public by design: an expired token cannot authenticate; the handler checks it and its session
                .WithName(nameof(RefreshToken))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("Trade a (possibly expired) token of a live session for a fresh one")
                .ProducesErrors(401);
    }
}
