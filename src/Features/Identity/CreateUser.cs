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

/// <summary><c>POST /api/v1/users</c> (seed 001): <c>{username, password, role, email?, name?}</c> → 201 with the user.
/// Usernames are stored lower-case; roles accept the aliases (<c>editor</c>, <c>user</c>, upper case). The user gets
/// the default Flux policies of their role. A taken username or e-mail is a 409.</summary>
public static class CreateUser
{
    public sealed record Command(string? Username, string? Password, string? Role, string? Email, string? Name) : ICommand<UserView>;

    public sealed record UserView(
        Guid Id, string Username, string? Email, string Name, string Role, bool Active, string AuthProvider,
        bool RequiresPasswordChange, DateTime CreatedAt, DateTime UpdatedAt);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Username).NotEmpty().Length(3, 64)
                .Matches("^[A-Za-z0-9][A-Za-z0-9._-]*$").WithMessage("username may contain letters, digits, '.', '_' and '-' and must start with a letter or digit");
            RuleFor(command => command.Password).Must(password => Passwords.Weakness(password) is null)
                .WithMessage(command => Passwords.Weakness(command.Password) ?? string.Empty);
            RuleFor(command => command.Role).Must(BaseRoles.IsValid).WithMessage($"role must be one of: {BaseRoles.AcceptedValues}");
            RuleFor(command => command.Email).EmailAddress().MaximumLength(254).When(command => !string.IsNullOrEmpty(command.Email));
            RuleFor(command => command.Name).MaximumLength(200);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, UserView>
    {
        private const string Taken = """
            SELECT EXISTS (SELECT 1 FROM identity.users WHERE username = @Username OR (@Email::text IS NOT NULL AND email = @Email))
            """;

        private const string Insert = """
            INSERT INTO identity.users (id, username, email, name, password_hash, role)
            VALUES (@Id, @Username, @Email, @Name, @PasswordHash, @Role)
            RETURNING id, username, email, name, role, active, auth_provider, requires_password_change, created_at, updated_at
            """;

        // Gyre binds new users to their role's default Flux policies (admins pass every check without them).
        private const string BindDefaultPolicies = """
            INSERT INTO identity.flux_bindings (id, user_id, policy_id, cluster, created_by)
            SELECT platform.uuid_v7(), @UserId, p.id, '', @By
            FROM identity.flux_policies p
            WHERE p.is_system AND p.is_active
              AND p.role = CASE @Role WHEN 'operator' THEN 'operator' WHEN 'admin' THEN NULL ELSE 'viewer' END
            ON CONFLICT DO NOTHING
            """;

        public async Task<UserView> Handle(Command command, CancellationToken cancellationToken)
        {
            var username = command.Username!.Trim().ToLowerInvariant();
            var email = string.IsNullOrWhiteSpace(command.Email) ? null : command.Email.Trim().ToLowerInvariant();
            if (await db.ExecuteScalarAsync<bool>(Taken, new { Username = username, Email = email }, cancellationToken))
            {
                throw new ConflictException("A user with this username or email already exists");
            }

            var role = BaseRoles.Parse(command.Role!).Name();
            var user = await db.QuerySingleAsync<UserView>(
                Insert,
                new
                {
                    Id = Guid.CreateVersion7(),
                    Username = username,
                    Email = email,
                    Name = command.Name?.Trim() ?? string.Empty,
                    PasswordHash = Passwords.Hash(command.Password!),
                    Role = role,
                },
                cancellationToken);
            await db.ExecuteAsync(BindDefaultPolicies, new { UserId = user.Id, Role = role, By = request.RequiredCaller.UserId }, cancellationToken);
            audit.Record("user.create", "user", user.Id.ToString(), user.Username, new { role, email_set = email is not null });
            return user;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/users", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var user = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/users/{user.Id}", user);
                })
                .RequirePermission(Permissions.UserEdit)
                .WithName(nameof(CreateUser))
                .WithTags(IdentityRoutes.Users)
                .WithSummary("Create a user")
                .ProducesErrors(400, 401, 403, 409);
    }
}
