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

/// <summary><c>DELETE /api/v1/user-roles/{id}</c> (seed 003, <c>user_role.edit</c>): removes one assignment → 204; the
/// user loses what it granted on their next request. Unknown ids are 404.</summary>
public static class DeleteUserRole
{
    public sealed record Command(Guid Id) : ICommand<Unit>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty().WithMessage("id must be a role assignment id");
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Unit>
    {
        private const string Delete = """
            DELETE FROM identity.user_roles ur
            WHERE ur.id = @Id
            RETURNING ur.user_id, ur.role_id, ur.scope::text AS scope,
                      (SELECT name FROM identity.roles r WHERE r.id = ur.role_id) AS role_name,
                      (SELECT username FROM identity.users u WHERE u.id = ur.user_id) AS username
            """;

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var removed = await db.QuerySingleOrDefaultAsync<Row>(Delete, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("Role assignment not found");
            audit.Record("user_role.revoke", "user_role", command.Id.ToString(), $"{removed.RoleName} → {removed.Username}", new
            {
                user_id = removed.UserId,
                role_id = removed.RoleId,
                role = removed.RoleName,
                scope = System.Text.Json.Nodes.JsonNode.Parse(removed.Scope),
            });
            return Unit.Value;
        }

        private sealed record Row(Guid UserId, Guid RoleId, string Scope, string RoleName, string Username);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/user-roles/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(id), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequirePermission(Permissions.UserRoleEdit)
                .WithName(nameof(DeleteUserRole))
                .WithTags(IdentityRoutes.Roles)
                .WithSummary("Remove a role assignment")
                .ProducesErrors(400, 401, 403, 404);
    }
}
