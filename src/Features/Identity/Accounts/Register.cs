using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Settings;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Identity.Accounts;

/// <summary>
/// <c>POST /v1/api/auth/register</c> (seed 002, KubeOrch §4): <c>{email, password, name, inviteCode?}</c> → 201
/// <c>{token, expires_at, user}</c> with a new session. The first user ever becomes admin without a code (and the first
/// invite code is made); after that, while sign-up is closed (<c>allowSignup</c> off) the invite code in
/// <c>delivery.inviteCode</c> is required (403 <c>Valid invite code required</c>), and is replaced after each sign-up
/// when <c>delivery.regenerateInviteAfterSignup</c> is on. Later users are developers. The username is the e-mail's
/// local part, made unique. 403 when local sign-in is off or the domain is not allowed, 409 for a taken e-mail.
/// </summary>
public static class Register
{
    public const string InviteCodeKey = "delivery.inviteCode";
    public const string RegenerateKey = "delivery.regenerateInviteAfterSignup";

    public sealed record Command : ICommand<Response>
    {
        public string? Email { get; init; }

        public string? Password { get; init; }

        public string? Name { get; init; }

        public string? InviteCode { get; init; }
    }

    public sealed record Response(string Token, [property: JsonPropertyName("expires_at")] DateTimeOffset ExpiresAt, UserView User);

    public sealed record UserView(Guid Id, string Username, string Email, string Name, string Role, string? AvatarUrl, DateTime CreatedAt, string AuthProvider);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Email).NotEmpty().WithMessage("email is required").EmailAddress().MaximumLength(254);
            RuleFor(command => command.Password).Must(password => Passwords.Weakness(password) is null)
                .WithMessage(command => Passwords.Weakness(command.Password) ?? string.Empty);
            RuleFor(command => command.Name).NotEmpty().WithMessage("name is required").MaximumLength(200);
            RuleFor(command => command.InviteCode).MaximumLength(64);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuthSettings settings, SessionIssuer sessions, AuditTrail audit, RateLimiter rateLimiter, IConfiguration configuration, TimeProvider clock)
        : IRequestHandler<Command, Response>
    {
        // Registrations queue behind each other, so exactly one can be the first user.
        private const string Serialise = "SELECT pg_advisory_xact_lock(hashtextextended('identity.register', 0))";

        private const string AnyUser = "SELECT EXISTS (SELECT 1 FROM identity.users)";

        private const string ReadSetting = "SELECT value #>> '{}' FROM identity.settings WHERE key = @Key";

        private const string WriteInvite = """
            INSERT INTO identity.settings (key, value, updated_by, updated_at) VALUES (@Key, to_jsonb(@Code::text), @By, @Now)
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at
            """;

        private const string EmailTaken = "SELECT EXISTS (SELECT 1 FROM identity.users WHERE email = @Email)";

        private const string Insert = """
            INSERT INTO identity.users (id, username, email, name, password_hash, role, last_login_at, created_at, updated_at)
            VALUES (@Id, @Username, @Email, @Name, @PasswordHash, @Role, @Now, @Now, @Now)
            RETURNING id, username, email, name, role, avatar_url, created_at, auth_provider
            """;

        private const string BindDefaultPolicies = """
            INSERT INTO identity.flux_bindings (id, user_id, policy_id, cluster, created_by)
            SELECT platform.uuid_v7(), @UserId, p.id, '', @UserId
            FROM identity.flux_policies p
            WHERE p.is_system AND p.is_active
              AND p.role = CASE @Role WHEN 'operator' THEN 'operator' WHEN 'admin' THEN NULL ELSE 'viewer' END
            ON CONFLICT DO NOTHING
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var limit = new RateLimitRule(configuration.GetValue("Identity:RegisterRateLimit:PermitPerMinute", 10), TimeSpan.FromMinutes(1));
            await rateLimiter.EnforceAsync($"register:{request.IpAddress}", limit, cancellationToken);

            var email = command.Email!.Trim().ToLowerInvariant();
            var policy = await settings.ReadPolicyAsync(db, cancellationToken);
            if (!policy.LocalLoginEnabled)
            {
                await DenyAsync("registration_disabled", cancellationToken);
                throw new ForbiddenException("Registration is disabled");
            }

            await db.ExecuteAsync(Serialise, null, cancellationToken);
            var first = !await db.ExecuteScalarAsync<bool>(AnyUser, null, cancellationToken);
            if (!policy.AllowsDomainOf(email))
            {
                await DenyAsync("domain_not_allowed", cancellationToken);
                throw new ForbiddenException("Your email domain is not authorized to register");
            }

            var currentInvite = await db.ExecuteScalarAsync<string?>(ReadSetting, new { Key = InviteCodeKey }, cancellationToken);
            if (!first && !policy.AllowSignup
                && (currentInvite is not { Length: > 0 } || command.InviteCode is null || !SecretTokens.FixedTimeEquals(command.InviteCode.Trim(), currentInvite)))
            {
                await DenyAsync("invalid_invite_code", cancellationToken);
                throw new ForbiddenException("Valid invite code required");
            }

            if (await db.ExecuteScalarAsync<bool>(EmailTaken, new { Email = email }, cancellationToken))
            {
                throw new ConflictException("User already exists");
            }

            var username = await Usernames.FirstFreeAsync(db, Usernames.Numbered(Usernames.Sanitise(email.Split('@')[0]) ?? "user"), cancellationToken);
            var role = first ? BaseRole.Admin : BaseRole.Developer;
            var now = clock.GetUtcNow().UtcDateTime;
            var user = await db.QuerySingleAsync<UserView>(
                Insert,
                new { Id = Guid.CreateVersion7(), Username = username, Email = email, Name = command.Name!.Trim(), PasswordHash = Passwords.Hash(command.Password!), Role = role.Name(), Now = now },
                cancellationToken);
            await db.ExecuteAsync(BindDefaultPolicies, new { UserId = user.Id, user.Role }, cancellationToken);

            var regenerate = first
                ? currentInvite is not { Length: > 0 }
                : await db.ExecuteScalarAsync<string?>(ReadSetting, new { Key = RegenerateKey }, cancellationToken) == "true";
            if (regenerate)
            {
                await db.ExecuteAsync(WriteInvite, new { Key = InviteCodeKey, Code = NewInviteCode(), By = user.Id, Now = now }, cancellationToken);
            }

            var session = await sessions.StartAsync(db, user.Id, user.Username, role, request, cancellationToken);
            audit.Record(new AuditEntry("auth.register", "user", user.Id.ToString(), user.Username, new { role = user.Role, first_user = first, invite_regenerated = regenerate })
            {
                ActorType = "user",
                ActorId = user.Id,
                ActorName = user.Username,
            });
            return new Response(session.Jwt, session.JwtExpiresAt, user);
        }

        // Six digits from a cryptographic source, as KubeOrch makes them.
        private static string NewInviteCode() => RandomNumberGenerator.GetInt32(0, 1_000_000).ToString("D6", CultureInfo.InvariantCulture);

        // Refusals roll the request back; their audit row is written on its own.
        private Task DenyAsync(string kind, CancellationToken cancellationToken) =>
            audit.WriteNowAsync(new AuditEntry("auth.register", "user", null, null, new { error_kind = kind }, AuditResult.Denied), cancellationToken);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/auth/register", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var response = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created("/v1/api/profile", response);
                })
                .AllowAnonymous() // public by design: this is how a new user gets an account (gated by invite code and settings)
                .WithName(nameof(Register))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("Register a new user (the first becomes admin; afterwards an invite code while sign-up is closed)")
                .ProducesErrors(400, 403, 409, 429);
    }
}
