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

namespace Capstan.Features.Identity.Sso;

/// <summary>
/// <c>POST /v1/api/auth/oauth/exchange</c> (seed 002, KubeOrch §4): <c>{code}</c>, the one-time code of an OAuth
/// callback → <c>{token, expires_at, user{id, username, email, name, role, avatarUrl, createdAt, authProvider}}</c> with
/// a new session. A code works once, within 30 seconds, on any replica. 400 <c>Code is required</c>, 401
/// <c>Invalid or expired code</c>.
/// </summary>
public static class ExchangeOAuthCode
{
    public sealed record Command(string? Code) : ICommand<Response>;

    public sealed record Response(string Token, [property: JsonPropertyName("expires_at")] DateTimeOffset ExpiresAt, UserView User);

    public sealed record UserView(
        Guid Id, string Username, string? Email, string Name, string Role, string? AvatarUrl, DateTime CreatedAt, string AuthProvider);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Code).NotEmpty().WithMessage("Code is required").MaximumLength(512);
    }

    internal sealed class Handler(DbSession db, SessionIssuer sessions, RequestContext request, AuditTrail audit, TimeProvider clock)
        : IRequestHandler<Command, Response>
    {
        private const string Consume = """
            UPDATE identity.oauth_exchange_codes SET used_at = @Now
            WHERE code_hash = @CodeHash AND used_at IS NULL AND expires_at > @Now
            RETURNING user_id
            """;

        private const string LoadUser = """
            SELECT id, username, email, name, role, avatar_url, created_at, auth_provider FROM identity.users WHERE id = @UserId AND active
            """;

        private const string TouchLogin = "UPDATE identity.users SET last_login_at = @Now WHERE id = @UserId";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow().UtcDateTime;
            var userId = await db.ExecuteScalarAsync<Guid?>(Consume, new { CodeHash = SecretTokens.Hash(command.Code!), Now = now }, cancellationToken);
            var user = userId is { } id ? await db.QuerySingleOrDefaultAsync<UserView>(LoadUser, new { UserId = id }, cancellationToken) : null;
            if (user is null)
            {
                await audit.WriteNowAsync(
                    new AuditEntry("auth.oauth_exchange", "user", userId?.ToString(), null, new { error_kind = userId is null ? "invalid_code" : "user_disabled" }, AuditResult.Denied),
                    cancellationToken);
                throw new UnauthorizedException("Invalid or expired code");
            }

            await db.ExecuteAsync(TouchLogin, new { UserId = user.Id, Now = now }, cancellationToken);
            var session = await sessions.StartAsync(db, user.Id, user.Username, BaseRoles.Parse(user.Role), request, cancellationToken);
            audit.Record(new AuditEntry("auth.oauth_exchange", "user", user.Id.ToString(), user.Username)
            {
                ActorType = "user",
                ActorId = user.Id,
                ActorName = user.Username,
            });
            return new Response(session.Jwt, session.JwtExpiresAt, user);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/auth/oauth/exchange", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command, cancellationToken)))
                .AllowAnonymous() // public by design: the one-time code is the credential
                .WithName(nameof(ExchangeOAuthCode))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("Trade an OAuth callback's one-time code for a token")
                .ProducesErrors(400, 401);
    }
}
