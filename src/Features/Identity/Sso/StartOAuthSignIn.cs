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
/// <c>GET /v1/api/auth/oauth/{provider}/authorize</c> (seed 002, KubeOrch §4): the same authorization-code flow as
/// seed 000's login, for a provider named by name or id, answering 307 to the provider. Its callback ends in a one-time
/// code for the front end instead of a cookie session. 404 <c>Unknown or disabled provider</c>, 503 provider unreachable.
/// </summary>
public static class StartOAuthSignIn
{
    public sealed record Command(string Provider, string Origin) : ICommand<Started>;

    public sealed record Started(Guid ProviderId, SsoStart Start);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Provider).NotEmpty().MaximumLength(100);
            RuleFor(command => command.Origin).NotEmpty();
        }
    }

    internal sealed class Handler(DbSession db, SsoFlow flow, RequestContext request, RateLimiter rateLimiter, IConfiguration configuration)
        : IRequestHandler<Command, Started>
    {
        public async Task<Started> Handle(Command command, CancellationToken cancellationToken)
        {
            var limit = new RateLimitRule(configuration.GetValue("Identity:OAuthRateLimit:PermitPerMinute", 10), TimeSpan.FromMinutes(1));
            await rateLimiter.EnforceAsync($"oauth_login:{request.IpAddress}", limit, cancellationToken);

            var provider = await SsoProvider.FindByKeyAsync(db, command.Provider, cancellationToken);
            if (provider is not { Enabled: true })
            {
                throw new NotFoundException("Unknown or disabled provider");
            }

            try
            {
                var start = await flow.StartAsync(db, provider, SsoFlows.Exchange, $"{command.Origin}/v1/api/auth/oauth/{provider.Id}/callback", cancellationToken);
                return new Started(provider.Id, start);
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
            app.MapGet("/v1/api/auth/oauth/{provider}/authorize", async (string provider, HttpContext context, IConfiguration configuration, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var started = await mediator.Send(new Command(provider, SsoFlow.PublicOrigin(context.Request, configuration)), cancellationToken);
                    SsoFlow.IssueStateCookie(context, started.ProviderId, started.Start);
                    return TypedResults.Redirect(started.Start.AuthorizationUrl, permanent: false, preserveMethod: true);
                })
                .AllowAnonymous() // public by design: this is how someone who is not signed in starts single sign-on
                .WithName(nameof(StartOAuthSignIn))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("Start an OAuth sign-in with a provider by name or id (307 to the provider)")
                .Produces(StatusCodes.Status307TemporaryRedirect)
                .ProducesErrors(400, 404, 429, 503);
    }
}
