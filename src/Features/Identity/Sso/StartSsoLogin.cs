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
/// <c>GET /api/v1/auth/{providerId}/login</c> (seed 000): starts an authorization-code flow with PKCE (S256), state and
/// nonce, and answers 302 to the provider's authorization endpoint (from the provider's settings, else its discovery
/// document). The state lives server-side for ten minutes, single use, and is bound to this browser by the
/// <c>oauth_state_&lt;id&gt;</c> cookie. 404 unknown provider, 403 disabled, 503 provider unreachable, 429 beyond ten
/// starts a minute from one address.
/// </summary>
public static class StartSsoLogin
{
    public sealed record Command(Guid ProviderId, string Origin) : ICommand<SsoStart>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Origin).NotEmpty();
    }

    internal sealed class Handler(DbSession db, SsoFlow flow, RequestContext request, RateLimiter rateLimiter, IConfiguration configuration)
        : IRequestHandler<Command, SsoStart>
    {
        public async Task<SsoStart> Handle(Command command, CancellationToken cancellationToken)
        {
            var limit = new RateLimitRule(configuration.GetValue("Identity:OAuthRateLimit:PermitPerMinute", 10), TimeSpan.FromMinutes(1));
            await rateLimiter.EnforceAsync($"oauth_login:{request.IpAddress}", limit, cancellationToken);

            var provider = await SsoProvider.FindAsync(db, command.ProviderId, cancellationToken)
                ?? throw new NotFoundException("Authentication provider not found");
            if (!provider.Enabled)
            {
                throw new ForbiddenException("Authentication provider is disabled");
            }

            try
            {
                return await flow.StartAsync(db, provider, SsoFlows.Session, $"{command.Origin}/api/v1/auth/{provider.Id}/callback", cancellationToken);
            }
            catch (SsoProtocolException failure)
            {
                throw new ServiceUnavailableException($"Sign-in provider '{provider.Name}' is not reachable: {failure.Message}");
            }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/auth/{providerId}/login", async (Guid providerId, HttpContext context, IConfiguration configuration, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var start = await mediator.Send(new Command(providerId, SsoFlow.PublicOrigin(context.Request, configuration)), cancellationToken);
                    SsoFlow.IssueStateCookie(context, providerId, start);
                    return TypedResults.Redirect(start.AuthorizationUrl);
                })
                .AllowAnonymous() // public by design: this is how someone who is not signed in starts single sign-on
                .WithName(nameof(StartSsoLogin))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("Start single sign-on with a provider (302 to the provider)")
                .Produces(StatusCodes.Status302Found)
                .ProducesErrors(400, 403, 404, 429, 503);
    }
}
