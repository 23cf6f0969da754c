using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
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
/// <c>POST /api/v1/user-roles</c> (seed 003, <c>user_role.edit</c>): <c>{user_id, role_id, scope?, granted_by?}</c> → 201
/// with the assignment. <c>scope</c> limits the grant (<c>{"project_id": "…"}</c>, <c>{"team_id": "…"}</c>); absent or
/// <c>{}</c> is global. Its values must be non-empty strings, since a dropped value would silently widen the grant.
/// <c>granted_by</c> may only name the caller and is always recorded as the caller. Unknown user or role → 404; the same
/// user, role and scope twice → 409.
/// </summary>
public static partial class CreateUserRole
{
    public sealed record Command : ICommand<AssignmentView>
    {
        [JsonPropertyName("user_id")]
        public string? UserId { get; init; }

        [JsonPropertyName("role_id")]
        public string? RoleId { get; init; }

        [JsonPropertyName("scope")]
        public JsonElement? Scope { get; init; }

        [JsonPropertyName("granted_by")]
        public string? GrantedBy { get; init; }
    }

    public sealed record AssignmentView(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("user_id")] Guid UserId,
        [property: JsonPropertyName("role_id")] Guid RoleId,
        [property: JsonPropertyName("scope")] JsonElement Scope,
        [property: JsonPropertyName("granted_by")] Guid? GrantedBy,
        [property: JsonPropertyName("granted_at")] DateTime GrantedAt);

    internal sealed partial class Validator : AbstractValidator<Command>
    {
        private const int MaximumKeys = 10;
        private const int MaximumValueLength = 256;

        public Validator()
        {
            RuleFor(command => command.UserId).Must(BeUuid).WithMessage("user_id is required and must be a UUID");
            RuleFor(command => command.RoleId).Must(BeUuid).WithMessage("role_id is required and must be a UUID");
            RuleFor(command => command.Scope).Custom((scope, context) =>
            {
                if (scope is not { ValueKind: not JsonValueKind.Null } value)
                {
                    return;
                }

                if (value.ValueKind != JsonValueKind.Object)
                {
                    context.AddFailure("scope", "scope must be an object of string values, e.g. {\"project_id\": \"…\"}");
                    return;
                }

                var entries = value.EnumerateObject().ToList();
                if (entries.Count > MaximumKeys)
                {
                    context.AddFailure("scope", $"scope may have at most {MaximumKeys} keys");
                }

                foreach (var entry in entries)
                {
                    if (!ScopeKey().IsMatch(entry.Name))
                    {
                        context.AddFailure("scope", $"scope key \"{entry.Name}\" must be lower-case letters, digits and '_' (at most 64)");
                    }
                    else if (entry.Value.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(entry.Value.GetString()))
                    {
                        context.AddFailure("scope", $"scope.{entry.Name} must be a non-empty string");
                    }
                    else if (entry.Value.GetString()!.Length > MaximumValueLength)
                    {
                        context.AddFailure("scope", $"scope.{entry.Name} must be at most {MaximumValueLength} characters");
                    }
                }
            });
        }

        private static bool BeUuid(string? value) => Guid.TryParse(value, out var id) && id != Guid.Empty;

        [GeneratedRegex("^[a-z][a-z0-9_]{0,63}$")]
        private static partial Regex ScopeKey();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, AssignmentView>
    {
        private const string UserName = "SELECT username FROM identity.users WHERE id = @UserId";

        private const string RoleName = "SELECT name FROM identity.roles WHERE id = @RoleId FOR KEY SHARE";

        private const string Insert = """
            INSERT INTO identity.user_roles (id, user_id, role_id, scope, granted_by, granted_at)
            VALUES (@Id, @UserId, @RoleId, CAST(@Scope AS jsonb), @GrantedBy, @Now)
            ON CONFLICT (user_id, role_id, scope) DO NOTHING
            RETURNING id, user_id, role_id, scope::text AS scope, granted_by, granted_at
            """;

        public async Task<AssignmentView> Handle(Command command, CancellationToken cancellationToken)
        {
            var grantedBy = request.CallerIdMatching(command.GrantedBy, "granted_by");
            var userId = Guid.Parse(command.UserId!);
            var roleId = Guid.Parse(command.RoleId!);
            var username = await db.QuerySingleOrDefaultAsync<string>(UserName, new { UserId = userId }, cancellationToken)
                ?? throw new NotFoundException("User not found");
            var roleName = await db.QuerySingleOrDefaultAsync<string>(RoleName, new { RoleId = roleId }, cancellationToken)
                ?? throw new NotFoundException("Role not found");

            // jsonb compares objects by value, so {"a","b"} and {"b","a"} are the same scope to the unique index.
            var scope = command.Scope is { ValueKind: JsonValueKind.Object } value
                ? value.EnumerateObject().ToDictionary(entry => entry.Name, entry => entry.Value.GetString()!.Trim(), StringComparer.Ordinal)
                : [];
            var row = await db.QuerySingleOrDefaultAsync<Row>(
                Insert,
                new { Id = Guid.CreateVersion7(), UserId = userId, RoleId = roleId, Scope = JsonSerializer.Serialize(scope), GrantedBy = grantedBy, Now = clock.GetUtcNow().UtcDateTime },
                cancellationToken)
                ?? throw new ConflictException($"{username} already holds the role \"{roleName}\" in this scope");

            audit.Record("user_role.grant", "user_role", row.Id.ToString(), $"{roleName} → {username}", new { user_id = userId, role_id = roleId, role = roleName, scope });
            return new AssignmentView(row.Id, row.UserId, row.RoleId, JsonDocument.Parse(row.Scope).RootElement.Clone(), row.GrantedBy, row.GrantedAt);
        }

        private sealed record Row(Guid Id, Guid UserId, Guid RoleId, string Scope, Guid? GrantedBy, DateTime GrantedAt);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/user-roles", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var assignment = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/user-roles/{assignment.Id}", assignment);
                })
                .RequirePermission(Permissions.UserRoleEdit)
                .WithName(nameof(CreateUserRole))
                .WithTags(IdentityRoutes.Roles)
                .WithSummary("Assign a role to a user, globally or within a scope")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
