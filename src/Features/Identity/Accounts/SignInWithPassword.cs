using System.Text.Json.Serialization;
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

namespace Capstan.Features.Identity.Accounts;

/// <summary>
/// <c>POST /v1/api/auth/login</c> (seed 002): the same password sign-in as <c>/api/v1/auth/login</c> (DESIGN §1.2):
/// <c>{email | username, password}</c>, the session cookies, and the superset answer <c>{success, token, expires_at,
/// user}</c> whose user carries KubeOrch's <c>avatarUrl</c>, <c>createdAt</c> and <c>authProvider</c>. 401 for any bad
/// credential, 429 with <c>Retry-After</c> when locked out or rate limited, 403 when local sign-in is off.
/// </summary>
public static class SignInWithPassword
{
    public sealed record Command : ICommand<SignInOutcome>
    {
        public string? Email { get; init; }

        public string? Username { get; init; }

        public string? Password { get; init; }

        [JsonIgnore]
        public string? ReplacedSessionToken { get; init; }
    }

    public sealed record Response(bool Success, string Token, [property: JsonPropertyName("expires_at")] DateTimeOffset ExpiresAt, UserView User);

    public sealed record UserView(
        Guid Id,
        string Username,
        string? Email,
        string Name,
        string Role,
        bool RequiresPasswordChange,
        bool CanChangePassword,
        string AuthProvider,
        string? AvatarUrl,
        DateTime CreatedAt,
        [property: JsonPropertyName("display_name")] string DisplayName);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Email ?? command.Username)
                .NotEmpty().OverridePropertyName("email").WithMessage("Email (or username) and password are required")
                .MaximumLength(256).OverridePropertyName("email");
            RuleFor(command => command.Password)
                .NotEmpty().WithMessage("Email (or username) and password are required")
                .MaximumLength(Passwords.MaximumLength);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, PasswordSignIn signIn) : IRequestHandler<Command, SignInOutcome>
    {
        public Task<SignInOutcome> Handle(Command command, CancellationToken cancellationToken) =>
            signIn.SignInAsync(db, request, (command.Email ?? command.Username)!, command.Password!, command.ReplacedSessionToken, cancellationToken);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/auth/login", async (Command command, HttpContext context, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var outcome = await mediator.Send(command with { ReplacedSessionToken = context.Request.Cookies[SessionCookies.SessionName] }, cancellationToken);
                    if (outcome is not { Status: SignInStatus.SignedIn, User: { } user, Session: { } session })
                    {
                        throw outcome.Status switch
                        {
                            SignInStatus.LocalLoginDisabled => new ForbiddenException(outcome.Message),
                            SignInStatus.Locked or SignInStatus.RateLimited => new TooManyRequestsException(outcome.RetryAfter ?? TimeSpan.FromMinutes(1), outcome.Message),
                            _ => new UnauthorizedException(outcome.Message),
                        };
                    }

                    SessionCookies.Issue(context, session.SessionToken, session.SessionExpiresAt, session.CsrfToken);
                    return TypedResults.Ok(new Response(
                        true,
                        session.Jwt,
                        session.JwtExpiresAt,
                        new UserView(user.Id, user.Username, user.Email, user.Name, user.Role, user.RequiresPasswordChange, user.CanChangePassword,
                            user.AuthProvider, user.AvatarUrl, user.CreatedAt, user.Name.Length > 0 ? user.Name : user.Username)));
                })
                .AllowAnonymous() // public by design: this is how a caller gets credentials
                .WithName(nameof(SignInWithPassword))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("Sign in with e-mail (or username) and password")
                .Produces<Response>()
                .ProducesErrors(400, 401, 403, 429);
    }
}
