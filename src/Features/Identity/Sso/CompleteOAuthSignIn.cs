using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
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
/// <c>GET /v1/api/auth/oauth/{provider}/callback</c> (seed 002, KubeOrch §4): finishes the flow like seed 000's
/// callback, then, instead of a cookie session, stores a one-time code (30 seconds, single use, kept only as its
/// hash) and answers 307 to <c>{Identity:FrontendUrl}/auth/callback?code=…</c>; the front end trades it at
/// <c>POST /v1/api/auth/oauth/exchange</c>. Every failure answers 307 to <c>{FrontendUrl}/login?error=&lt;reason&gt;</c>.
/// </summary>
public static class CompleteOAuthSignIn
{
    public static readonly TimeSpan CodeLifetime = TimeSpan.FromSeconds(30);

    public sealed record Command(string Provider, string? Code, string? State, string? Error, IReadOnlyDictionary<string, string> StateCookies) : ICommand<Outcome>;

    public sealed record Outcome(Guid? ProviderId, string? Reason, string? ExchangeCode);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Provider).NotEmpty().MaximumLength(100);
            RuleFor(command => command.Code).MaximumLength(4096);
            RuleFor(command => command.State).MaximumLength(512);
            RuleFor(command => command.Error).MaximumLength(256);
        }
    }

    internal sealed class Handler(DbSession db, SsoFlow flow, RequestContext request, AuditTrail audit, RateLimiter rateLimiter, IConfiguration configuration, TimeProvider clock)
        : IRequestHandler<Command, Outcome>
    {
        private const string InsertCode = """
            INSERT INTO identity.oauth_exchange_codes (code_hash, user_id, created_at, expires_at) VALUES (@CodeHash, @UserId, @Now, @ExpiresAt)
            """;

        public async Task<Outcome> Handle(Command command, CancellationToken cancellationToken)
        {
            var limit = new RateLimitRule(configuration.GetValue("Identity:OAuthRateLimit:PermitPerMinute", 10), TimeSpan.FromMinutes(1));
            if (!(await rateLimiter.HitAsync($"oauth_callback:{request.IpAddress}", limit, cancellationToken)).Allowed)
            {
                audit.Record(new AuditEntry("auth.sso_login", "auth_provider", null, command.Provider, new { method = "sso", error_kind = SsoReasons.RateLimited }, AuditResult.Denied));
                return new Outcome(null, SsoReasons.RateLimited, null);
            }

            // The callback URL names the provider by id; a name works as well.
            var providerId = Guid.TryParse(command.Provider, out var id) ? id : (await SsoProvider.FindByKeyAsync(db, command.Provider, cancellationToken))?.Id;
            if (providerId is not { } resolved)
            {
                audit.Record(new AuditEntry("auth.sso_login", "auth_provider", null, command.Provider, new { method = "sso", error_kind = SsoReasons.ProviderNotFound }, AuditResult.Denied));
                return new Outcome(null, SsoReasons.ProviderNotFound, null);
            }

            var result = await flow.CompleteAsync(
                db,
                new SsoCallback(resolved, SsoFlows.Exchange, command.Code, command.State, command.StateCookies.GetValueOrDefault(SsoFlow.StateCookieName(resolved)), command.Error),
                cancellationToken);
            if (result.User is not { } user)
            {
                return new Outcome(resolved, result.Reason, null);
            }

            var code = SecretTokens.Generate();
            var now = clock.GetUtcNow();
            await db.ExecuteAsync(
                InsertCode, new { CodeHash = SecretTokens.Hash(code), UserId = user.Id, Now = now.UtcDateTime, ExpiresAt = (now + CodeLifetime).UtcDateTime }, cancellationToken);
            return new Outcome(resolved, null, code);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/auth/oauth/{provider}/callback", async (string provider, string? code, string? state, string? error, HttpContext context, IConfiguration configuration, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var stateCookies = context.Request.Cookies
                        .Where(cookie => cookie.Key.StartsWith("oauth_state_", StringComparison.Ordinal))
                        .ToDictionary(cookie => cookie.Key, cookie => cookie.Value, StringComparer.Ordinal);
                    var outcome = await mediator.Send(new Command(provider, code, state, error, stateCookies), cancellationToken);
                    if (outcome.ProviderId is { } providerId)
                    {
                        SsoFlow.ClearStateCookie(context, providerId);
                    }

                    var frontend = (configuration["Identity:FrontendUrl"] ?? "/").Trim().TrimEnd('/');
                    var target = outcome.ExchangeCode is { } exchangeCode
                        ? $"{frontend}/auth/callback?code={Uri.EscapeDataString(exchangeCode)}"
                        : $"{frontend}/login?error={Uri.EscapeDataString(outcome.Reason ?? SsoReasons.ProviderError)}";
                    return TypedResults.Redirect(target, permanent: false, preserveMethod: true);
                })
                .AllowAnonymous() // public by design: the identity provider sends a browser that is not signed in yet
                .WithName(nameof(CompleteOAuthSignIn))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("Finish an OAuth sign-in (307 to the front end with a one-time code, or with ?error=<reason>)")
                .Produces(StatusCodes.Status307TemporaryRedirect)
                .ProducesErrors(400);
    }
}
