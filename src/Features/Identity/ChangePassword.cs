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

namespace Capstan.Features.Identity;

/// <summary>
/// <c>POST /api/v1/auth/change-password</c> (seed 000, Gyre §13): <c>{currentPassword, newPassword}</c>. In order: at
/// most 5 attempts per 15 minutes per user (429), SSO-only accounts refused (403), strength rules (400), the current
/// password must match (401), the new one must differ from it and from the last 5 (400). The caller's other sessions
/// are kept; <c>requiresPasswordChange</c> clears.
/// </summary>
public static class ChangePassword
{
    public const int RememberedPasswords = 5;

    public sealed record Command(string? CurrentPassword, string? NewPassword) : ICommand<Response>;

    public sealed record Response(bool Success, string Message);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.CurrentPassword).NotEmpty().MaximumLength(Passwords.MaximumLength);
            RuleFor(command => command.NewPassword).NotEmpty().Must(password => Passwords.Weakness(password) is null)
                .WithMessage(command => "New password is too weak: " + Passwords.Weakness(command.NewPassword));
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, RateLimiter rateLimiter, IConfiguration configuration, TimeProvider clock)
        : IRequestHandler<Command, Response>
    {
        private const string Load = "SELECT password_hash, auth_provider FROM identity.users WHERE id = @UserId FOR UPDATE";

        private const string Recent = """
            SELECT password_hash FROM identity.password_history WHERE user_id = @UserId ORDER BY created_at DESC LIMIT @Count
            """;

        private const string Save = """
            INSERT INTO identity.password_history (id, user_id, password_hash, created_at) VALUES (@HistoryId, @UserId, @OldHash, @Now);
            UPDATE identity.users SET password_hash = @NewHash, requires_password_change = false, updated_at = @Now WHERE id = @UserId;
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var limit = new RateLimitRule(configuration.GetValue("Identity:ChangePasswordRateLimit:PermitPer15Minutes", 5), TimeSpan.FromMinutes(15));
            await rateLimiter.EnforceAsync($"change-password:{caller.UserId}", limit, cancellationToken);

            var user = await db.QuerySingleOrDefaultAsync<Row>(Load, new { caller.UserId }, cancellationToken)
                ?? throw new UnauthorizedException();
            if (user.PasswordHash is null)
            {
                throw new ForbiddenException("This account is managed via SSO and has no local password.");
            }

            if (!Passwords.Verify(user.PasswordHash, command.CurrentPassword!))
            {
                await audit.WriteNowAsync(
                    new AuditEntry("auth.password_change", "user", caller.UserId.ToString(), caller.Username, new { error_kind = "wrong_current_password" }, AuditResult.Denied),
                    cancellationToken);
                throw new UnauthorizedException("Current password is incorrect");
            }

            if (command.NewPassword == command.CurrentPassword)
            {
                throw BadRequestException.ForField("newPassword", "New password must be different from the current password");
            }

            var recent = await db.QueryAsync<string>(Recent, new { caller.UserId, Count = RememberedPasswords }, cancellationToken);
            if (recent.Any(hash => Passwords.Verify(hash, command.NewPassword!)))
            {
                throw BadRequestException.ForField("newPassword", "New password cannot be the same as a recently used password");
            }

            var now = clock.GetUtcNow().UtcDateTime;
            await db.ExecuteAsync(
                Save,
                new { HistoryId = Guid.CreateVersion7(), caller.UserId, OldHash = user.PasswordHash, NewHash = Passwords.Hash(command.NewPassword!), Now = now },
                cancellationToken);
            audit.Record("auth.password_change", "user", caller.UserId.ToString(), caller.Username);
            return new Response(true, "Password changed successfully");
        }

        private sealed record Row(string? PasswordHash, string AuthProvider);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/auth/change-password", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command, cancellationToken)))
                .RequirePermission(Permissions.ProfileEdit)
                .WithName(nameof(ChangePassword))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("Change your password")
                .ProducesErrors(400, 401, 403, 429);
    }
}
