using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity;

/// <summary><c>GET /api/v1/user-roles</c> (seed 003): role assignments as a bare array, oldest first, optionally only
/// those of one <c>user_id</c> and/or one <c>role_id</c> (malformed ids are 400).</summary>
public static class ListUserRoles
{
    public sealed record Query(string? UserId, string? RoleId) : IQuery<IReadOnlyList<AssignmentView>>;

    public sealed record AssignmentView(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("user_id")] Guid UserId,
        [property: JsonPropertyName("role_id")] Guid RoleId,
        [property: JsonPropertyName("scope")] JsonElement Scope,
        [property: JsonPropertyName("granted_by")] Guid? GrantedBy,
        [property: JsonPropertyName("granted_at")] DateTime GrantedAt);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.UserId).Must(id => Guid.TryParse(id, out _)).When(query => query.UserId is not null)
                .OverridePropertyName("user_id").WithMessage("user_id must be a UUID");
            RuleFor(query => query.RoleId).Must(id => Guid.TryParse(id, out _)).When(query => query.RoleId is not null)
                .OverridePropertyName("role_id").WithMessage("role_id must be a UUID");
        }
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, IReadOnlyList<AssignmentView>>
    {
        private const string List = """
            SELECT id, user_id, role_id, scope::text AS scope, granted_by, granted_at
            FROM identity.user_roles
            WHERE (@UserId::uuid IS NULL OR user_id = @UserId)
              AND (@RoleId::uuid IS NULL OR role_id = @RoleId)
            ORDER BY granted_at ASC, id ASC
            """;

        public async Task<IReadOnlyList<AssignmentView>> Handle(Query query, CancellationToken cancellationToken)
        {
            var rows = await db.QueryAsync<Row>(
                List,
                new { UserId = query.UserId is null ? (Guid?)null : Guid.Parse(query.UserId), RoleId = query.RoleId is null ? (Guid?)null : Guid.Parse(query.RoleId) },
                cancellationToken);
            return [.. rows.Select(row => new AssignmentView(row.Id, row.UserId, row.RoleId, JsonDocument.Parse(row.Scope).RootElement.Clone(), row.GrantedBy, row.GrantedAt))];
        }

        private sealed record Row(Guid Id, Guid UserId, Guid RoleId, string Scope, Guid? GrantedBy, DateTime GrantedAt);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/user-roles", async ([FromQuery(Name = "user_id")] string? userId, [FromQuery(Name = "role_id")] string? roleId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(userId?.Trim(), roleId?.Trim()), cancellationToken)))
                .RequirePermission(Permissions.UserRoleRead)
                .WithName(nameof(ListUserRoles))
                .WithTags(IdentityRoutes.Roles)
                .WithSummary("List role assignments")
                .ProducesErrors(400, 401, 403);
    }
}
