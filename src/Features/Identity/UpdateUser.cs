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

namespace Capstan.Features.Identity;

/// <summary>
/// <c>PUT /api/v1/users/{userId}</c> (seed 001): changes any of <c>role</c>, <c>email</c>, <c>name</c>, <c>active</c>
/// and (an admin reset) <c>password</c>. Deactivating a user or resetting their password ends their sessions;
/// deactivating also revokes their API keys. Nobody can demote or deactivate themselves, and the last active admin
/// stays an active admin (409).
/// </summary>
public static class UpdateUser
{
    public sealed record Command : ICommand<UserView>
    {
        public Guid UserId { get; init; }

        public string? Role { get; init; }

        public string? Email { get; init; }

        public string? Name { get; init; }

        public bool? Active { get; init; }

        public string? Password { get; init; }
    }

    public sealed record UserView(
        Guid Id, string Username, string? Email, string Name, string Role, bool Active, string AuthProvider,
        bool RequiresPasswordChange, DateTime CreatedAt, DateTime UpdatedAt);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Role).Must(BaseRoles.IsValid).When(command => command.Role is not null)
                .WithMessage($"role must be one of: {BaseRoles.AcceptedValues}");
            RuleFor(command => command.Email).EmailAddress().MaximumLength(254).When(command => !string.IsNullOrEmpty(command.Email));
            RuleFor(command => command.Name).MaximumLength(200);
            RuleFor(command => command.Password).Must(password => Passwords.Weakness(password) is null)
                .WithMessage(command => Passwords.Weakness(command.Password) ?? string.Empty)
                .When(command => command.Password is not null);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, UserView>
    {
        private const string Load = """
            SELECT id, username, email, name, role, active, auth_provider, requires_password_change, created_at, updated_at, password_hash
            FROM identity.users WHERE id = @UserId FOR UPDATE
            """;

        // Locks every active admin row, so two admins demoting each other cannot both succeed.
        private const string OtherActiveAdmins = """
            SELECT count(*) FROM (SELECT id FROM identity.users WHERE role = 'admin' AND active AND id <> @UserId FOR UPDATE) admins
            """;

        private const string EmailTaken = "SELECT EXISTS (SELECT 1 FROM identity.users WHERE email = @Email AND id <> @UserId)";

        private const string Update = """
            UPDATE identity.users
            SET role = @Role, email = @Email, name = @Name, active = @Active, password_hash = @PasswordHash,
                requires_password_change = @RequiresPasswordChange, updated_at = @Now
            WHERE id = @UserId
            RETURNING id, username, email, name, role, active, auth_provider, requires_password_change, created_at, updated_at
            """;

        private const string RememberPassword = """
            INSERT INTO identity.password_history (id, user_id, password_hash, created_at) VALUES (@Id, @UserId, @Hash, @Now)
            """;

        private const string EndSessions = "UPDATE identity.sessions SET revoked_at = @Now WHERE user_id = @UserId AND revoked_at IS NULL";

        private const string RevokeKeys = "UPDATE identity.api_keys SET revoked_at = @Now WHERE user_id = @UserId AND revoked_at IS NULL";

        private const string RebindDefaults = """
            DELETE FROM identity.flux_bindings b USING identity.flux_policies p
            WHERE b.policy_id = p.id AND p.is_system AND b.user_id = @UserId;
            INSERT INTO identity.flux_bindings (id, user_id, policy_id, cluster, created_by)
            SELECT platform.uuid_v7(), @UserId, p.id, '', @By
            FROM identity.flux_policies p
            WHERE p.is_system AND p.is_active
              AND p.role = CASE @Role WHEN 'operator' THEN 'operator' WHEN 'admin' THEN NULL ELSE 'viewer' END
            ON CONFLICT DO NOTHING;
            """;

        public async Task<UserView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var current = await db.QuerySingleOrDefaultAsync<Row>(Load, new { command.UserId }, cancellationToken)
                ?? throw new NotFoundException("User not found");

            var role = command.Role is null ? current.Role : BaseRoles.Parse(command.Role).Name();
            var active = command.Active ?? current.Active;
            var losesAdmin = current is { Role: "admin", Active: true } && (role != "admin" || !active);
            if (command.UserId == caller.UserId && (BaseRoles.Parse(role) < BaseRoles.Parse(current.Role) || !active))
            {
                throw new ConflictException("You cannot demote or deactivate yourself");
            }

            if (losesAdmin && await db.ExecuteScalarAsync<long>(OtherActiveAdmins, new { command.UserId }, cancellationToken) == 0)
            {
                throw new ConflictException("Cannot remove the last active admin");
            }

            var email = command.Email is null ? current.Email : command.Email.Trim().ToLowerInvariant() is { Length: > 0 } trimmed ? trimmed : null;
            if (email is not null && email != current.Email
                && await db.ExecuteScalarAsync<bool>(EmailTaken, new { Email = email, command.UserId }, cancellationToken))
            {
                throw new ConflictException("A user with this email already exists");
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var passwordReset = command.Password is not null;
            if (passwordReset && current.PasswordHash is not null)
            {
                await db.ExecuteAsync(RememberPassword, new { Id = Guid.CreateVersion7(), command.UserId, Hash = current.PasswordHash, Now = now }, cancellationToken);
            }

            var updated = await db.QuerySingleAsync<UserView>(
                Update,
                new
                {
                    command.UserId,
                    Role = role,
                    Email = email,
                    Name = command.Name?.Trim() ?? current.Name,
                    Active = active,
                    PasswordHash = passwordReset ? Passwords.Hash(command.Password!) : current.PasswordHash,
                    RequiresPasswordChange = passwordReset || current.RequiresPasswordChange,
                    Now = now,
                },
                cancellationToken);

            if (!active || passwordReset)
            {
                await db.ExecuteAsync(EndSessions, new { command.UserId, Now = now }, cancellationToken);
            }

            if (!active)
            {
                await db.ExecuteAsync(RevokeKeys, new { command.UserId, Now = now }, cancellationToken);
            }

            if (role != current.Role)
            {
                await db.ExecuteAsync(RebindDefaults, new { command.UserId, Role = role, By = caller.UserId }, cancellationToken);
            }

            audit.Record("user.update", "user", updated.Id.ToString(), updated.Username, new
            {
                role_changed = role != current.Role ? $"{current.Role} -> {role}" : null,
                active_changed = active != current.Active ? (bool?)active : null,
                email_changed = email != current.Email,
                password_reset = passwordReset,
            });
            return updated;
        }

        private sealed record Row(
            Guid Id, string Username, string? Email, string Name, string Role, bool Active, string AuthProvider,
            bool RequiresPasswordChange, DateTime CreatedAt, DateTime UpdatedAt, string? PasswordHash);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/users/{userId}", async (Guid userId, Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command with { UserId = userId }, cancellationToken)))
                .RequirePermission(Permissions.UserEdit)
                .WithName(nameof(UpdateUser))
                .WithTags(IdentityRoutes.Users)
                .WithSummary("Change a user's role, email, name, active flag or password")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
