using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Sso;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Identity.Sso;

/// <summary>
/// <c>GET /api/v1/auth/{providerId}/callback</c> (seed 000): where the provider sends the browser back. A missing or
/// mismatched state (query against cookie, then the stored single-use row) is a 400. Otherwise the code is exchanged,
/// the ID token (or GitHub profile) read, the user found or provisioned, a session started with its cookies, and the
/// browser sent to <c>/</c>; any refusal goes to <c>/login?error=&lt;reason&gt;</c> (<c>signup_disabled</c>,
/// <c>domain_not_allowed</c>, <c>auto_provision_disabled</c>, <c>user_disabled</c>, …). Ten callbacks a minute per address.
/// </summary>
public static class CompleteSsoLogin
{
    public sealed record Command(Guid ProviderId, string? Code, string? State, string? Error, string? StateCookie, string? ReplacedSessionToken)
        : ICommand<Outcome>;

    public sealed record Outcome(string? Reason, IssuedSession? Session);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Code).MaximumLength(4096);
            RuleFor(command => command.State).MaximumLength(512);
            RuleFor(command => command.Error).MaximumLength(256);
        }
    }

    internal sealed class Handler(DbSession db, SsoFlow flow, SessionIssuer sessions, RequestContext request, AuditTrail audit, RateLimiter rateLimiter, IConfiguration configuration)
        : IRequestHandler<Command, Outcome>
    {
        public async Task<Outcome> Handle(Command command, CancellationToken cancellationToken)
        {
            var limit = new RateLimitRule(configuration.GetValue("Identity:OAuthRateLimit:PermitPerMinute", 10), TimeSpan.FromMinutes(1));
            if (!(await rateLimiter.HitAsync($"oauth_callback:{request.IpAddress}", limit, cancellationToken)).Allowed)
            {
                audit.Record(new AuditEntry("auth.sso_login", "auth_provider", command.ProviderId.ToString(), null, new { method = "sso", error_kind = SsoReasons.RateLimited }, AuditResult.Denied));
                return new Outcome(SsoReasons.RateLimited, null);
            }

            var result = await flow.CompleteAsync(
                db, new SsoCallback(command.ProviderId, SsoFlows.Session, command.Code, command.State, command.StateCookie, command.Error), cancellationToken);
            if (result.User is not { } user)
            {
                return new Outcome(result.Reason, null);
            }

            if (!string.IsNullOrEmpty(command.ReplacedSessionToken))
            {
                await sessions.RevokeTokenAsync(db, command.ReplacedSessionToken, cancellationToken);
            }

            return new Outcome(null, await sessions.StartAsync(db, user.Id, user.Username, BaseRoles.Parse(user.Role), request, cancellationToken));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/auth/{providerId}/callback", async (Guid providerId, string? code, string? state, string? error, HttpContext context, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var outcome = await mediator.Send(
                        new Command(providerId, code, state, error, context.Request.Cookies[SsoFlow.StateCookieName(providerId)], context.Request.Cookies[SessionCookies.SessionName]),
                        cancellationToken);
                    switch (outcome)
                    {
                        case { Reason: SsoReasons.InvalidRequest }:
                            throw new BadRequestException("Missing code or state parameter");
                        case { Reason: SsoReasons.InvalidState }:
                            throw new BadRequestException("Invalid state parameter (possible CSRF attack)");
                    }

                    SsoFlow.ClearStateCookie(context, providerId);
                    if (outcome.Session is not { } session)
                    {
                        return TypedResults.Redirect($"/login?error={Uri.EscapeDataString(outcome.Reason ?? SsoReasons.ProviderError)}");
                    }

                    SessionCookies.Issue(context, session.SessionToken, session.SessionExpiresAt, session.CsrfToken);
                    return TypedResults.Redirect("/");
                })
                .AllowAnonymous() // public by design: the identity provider sends a browser that is not signed in yet
                .WithName(nameof(CompleteSsoLogin))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("Finish single sign-on (302 to / signed in, or to /login?error=<reason>)")
                .Produces(StatusCodes.Status302Found)
                .ProducesErrors(400);
    }
}
