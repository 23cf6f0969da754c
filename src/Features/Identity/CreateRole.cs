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

/// <summary><c>POST /api/v1/roles</c> (seed 003, <c>role.edit</c>): <c>{name, description?, permissions[]}</c> → 201 with
/// the role. Names are unique regardless of case (409); every permission must be in the catalog (400 naming the
/// unknown ones); duplicates in the list are dropped, the order kept.</summary>
public static class CreateRole
{
    public sealed record Command(string? Name, string? Description, IReadOnlyList<string>? Permissions) : ICommand<RoleView>;

    /// <summary>Init properties, not a positional record: Dapper reads <c>text[]</c> as an array it converts only for
    /// properties.</summary>
    public sealed record RoleView
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Description { get; init; } = string.Empty;

        public string[] Permissions { get; init; } = [];

        [JsonPropertyName("is_system")]
        public bool IsSystem { get; init; }

        [JsonPropertyName("created_at")]
        public DateTime CreatedAt { get; init; }

        [JsonPropertyName("updated_at")]
        public DateTime UpdatedAt { get; init; }
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).Must(name => !string.IsNullOrWhiteSpace(name)).WithMessage("name is required")
                .MaximumLength(100).WithMessage("name must be at most 100 characters");
            RuleFor(command => command.Description).MaximumLength(1000).WithMessage("description must be at most 1000 characters");
            RuleFor(command => command.Permissions).Cascade(CascadeMode.Stop)
                .NotNull().WithMessage("permissions is required (an array of permission keys)")
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

    internal sealed class Handler(DbSession db, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, RoleView>
    {
        private const string NameTaken = "SELECT EXISTS (SELECT 1 FROM identity.roles WHERE lower(name) = lower(@Name))";

        private const string Insert = """
            INSERT INTO identity.roles (id, name, description, permissions, is_system, created_at, updated_at)
            VALUES (@Id, @Name, @Description, @Permissions, false, @Now, @Now)
            ON CONFLICT (name) DO NOTHING
            RETURNING id, name, description, permissions, is_system, created_at, updated_at
            """;

        public async Task<RoleView> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = command.Name!.Trim();
            var conflict = new ConflictException($"A role named \"{name}\" already exists");
            if (await db.ExecuteScalarAsync<bool>(NameTaken, new { Name = name }, cancellationToken))
            {
                throw conflict;
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var role = await db.QuerySingleOrDefaultAsync<RoleView>(
                Insert,
                new
                {
                    Id = Guid.CreateVersion7(),
                    Name = name,
                    Description = command.Description?.Trim() ?? string.Empty,
                    Permissions = command.Permissions!.Distinct(StringComparer.Ordinal).ToArray(),
                    Now = now,
                },
                cancellationToken) ?? throw conflict;
            audit.Record("role.create", "role", role.Id.ToString(), role.Name, new { permissions = role.Permissions });
            return role;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/roles", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var role = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/roles/{role.Id}", role);
                })
                .RequirePermission(Permissions.RoleEdit)
                .WithName(nameof(CreateRole))
                .WithTags(IdentityRoutes.Roles)
                .WithSummary("Create a custom role")
                .ProducesErrors(400, 401, 403, 409);
    }
}
