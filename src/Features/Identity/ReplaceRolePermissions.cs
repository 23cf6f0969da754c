using System.Text.Json.Serialization;
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

/// <summary><c>PUT /api/v1/roles/{id}/permissions</c> (seed 003, <c>role.edit</c>): <c>{permissions[]}</c> replaces the
/// role's whole list (an empty array clears it) → 204. System roles may be edited too. Every key must be in the catalog
/// (400 naming the unknown ones). Holders of the role gain or lose the permissions on their next request.</summary>
public static class ReplaceRolePermissions
{
    public sealed record Command : ICommand<Unit>
    {
        [JsonIgnore]
        public Guid Id { get; init; }

        public IReadOnlyList<string>? Permissions { get; init; }
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty().WithMessage("id must be a role id");
            RuleFor(command => command.Permissions).Cascade(CascadeMode.Stop)
                .NotNull().WithMessage("permissions is required (an array of permission keys; [] clears the role)")
                .Must(permissions => permissions!.Count <= 200).WithMessage("permissions may list at most 200 keys")
                .Must(permissions => permissions!.All(key => key is not null && PermissionCatalog.Exists(key)))
                .WithMessage(command => UnknownPermissions(command.Permissions!));
        }

        private static string UnknownPermissions(IEnumerable<string> permissions)
        {
            var unknown = permissions.Where(key => key is null || !PermissionCatalog.Exists(key)).Select(key => $"\"{key}\"").Distinct().ToList();
            return unknown.Count == 1 ? $"unknown permission {unknown[0]}" : $"unknown permissions: {string.Join(", ", unknown)}";
        }
    }

    internal sealed class Handler(DbSession db, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Unit>
    {
        private const string Lock = "SELECT name, permissions, is_system FROM identity.roles WHERE id = @Id FOR UPDATE";

        private const string Replace = "UPDATE identity.roles SET permissions = @Permissions, updated_at = @Now WHERE id = @Id";

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var role = await db.QuerySingleOrDefaultAsync<Row>(Lock, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("Role not found");
            var permissions = command.Permissions!.Distinct(StringComparer.Ordinal).ToArray();
            await db.ExecuteAsync(Replace, new { command.Id, Permissions = permissions, Now = clock.GetUtcNow().UtcDateTime }, cancellationToken);
            audit.Record("role.permissions.update", "role", command.Id.ToString(), role.Name, new
            {
                added = permissions.Except(role.Permissions, StringComparer.Ordinal).ToArray(),
                removed = role.Permissions.Except(permissions, StringComparer.Ordinal).ToArray(),
                is_system = role.IsSystem,
            });
            return Unit.Value;
        }

        private sealed record Row
        {
            public string Name { get; init; } = string.Empty;

            public string[] Permissions { get; init; } = [];

            public bool IsSystem { get; init; }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/roles/{id}/permissions", async (Guid id, Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(command with { Id = id }, cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequirePermission(Permissions.RoleEdit)
                .WithName(nameof(ReplaceRolePermissions))
                .WithTags(IdentityRoutes.Roles)
                .WithSummary("Replace a role's permissions")
                .ProducesErrors(400, 401, 403, 404);
    }
}
