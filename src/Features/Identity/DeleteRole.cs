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

/// <summary><c>DELETE /api/v1/roles/{id}</c> (seed 003, <c>role.edit</c>) → 204. Its assignments go with it, so its
/// holders lose what it granted on their next request. System roles cannot be deleted (409); unknown ids are 404.</summary>
public static class DeleteRole
{
    public sealed record Command(Guid Id) : ICommand<Unit>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty().WithMessage("id must be a role id");
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Unit>
    {
        private const string Lock = "SELECT name, is_system FROM identity.roles WHERE id = @Id FOR UPDATE";

        private const string Delete = """
            WITH assignments AS (DELETE FROM identity.user_roles WHERE role_id = @Id RETURNING 1),
                 role AS (DELETE FROM identity.roles WHERE id = @Id RETURNING 1)
            SELECT count(*) FROM assignments
            """;

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var role = await db.QuerySingleOrDefaultAsync<Row>(Lock, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("Role not found");
            if (role.IsSystem)
            {
                throw new ConflictException($"\"{role.Name}\" is a system role and cannot be deleted");
            }

            var assignments = await db.ExecuteScalarAsync<long>(Delete, new { command.Id }, cancellationToken);
            audit.Record("role.delete", "role", command.Id.ToString(), role.Name, new { assignments_removed = assignments });
            return Unit.Value;
        }

        private sealed record Row(string Name, bool IsSystem);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/roles/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(id), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequirePermission(Permissions.RoleEdit)
                .WithName(nameof(DeleteRole))
                .WithTags(IdentityRoutes.Roles)
                .WithSummary("Delete a custom role and its assignments")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
