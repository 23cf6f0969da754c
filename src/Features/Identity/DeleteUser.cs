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

/// <summary><c>DELETE /api/v1/users/{userId}</c> (seed 001): removes the user with their sessions, API keys, role
/// assignments and Flux bindings (204). Nobody deletes themselves, and the last active admin stays (409).</summary>
public static class DeleteUser
{
    public sealed record Command(Guid UserId) : ICommand<Unit>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.UserId).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Unit>
    {
        private const string Load = "SELECT username, role, active FROM identity.users WHERE id = @UserId FOR UPDATE";

        private const string OtherActiveAdmins = """
            SELECT count(*) FROM (SELECT id FROM identity.users WHERE role = 'admin' AND active AND id <> @UserId FOR UPDATE) admins
            """;

        private const string Delete = "DELETE FROM identity.users WHERE id = @UserId";

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            if (command.UserId == request.RequiredCaller.UserId)
            {
                throw new ConflictException("You cannot delete yourself");
            }

            var user = await db.QuerySingleOrDefaultAsync<Row>(Load, new { command.UserId }, cancellationToken)
                ?? throw new NotFoundException("User not found");
            if (user is { Role: "admin", Active: true }
                && await db.ExecuteScalarAsync<long>(OtherActiveAdmins, new { command.UserId }, cancellationToken) == 0)
            {
                throw new ConflictException("Cannot remove the last active admin");
            }

            await db.ExecuteAsync(Delete, new { command.UserId }, cancellationToken);
            audit.Record("user.delete", "user", command.UserId.ToString(), user.Username, new { user.Role });
            return Unit.Value;
        }

        private sealed record Row(string Username, string Role, bool Active);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/users/{userId}", async (Guid userId, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(userId), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequirePermission(Permissions.UserEdit)
                .WithName(nameof(DeleteUser))
                .WithTags(IdentityRoutes.Users)
                .WithSummary("Delete a user")
                .ProducesErrors(401, 403, 404, 409);
    }
}
