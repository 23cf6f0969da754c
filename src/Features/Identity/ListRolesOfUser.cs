using System.Text.Json;
using System.Text.Json.Serialization;
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

/// <summary><c>GET /api/v1/users/{userID}/roles</c> (seed 003): one user's role assignments as a bare array, oldest
/// first. An unknown user is a 404 (a known user without assignments is <c>[]</c>).</summary>
public static class ListRolesOfUser
{
    public sealed record Query(Guid UserId) : IQuery<IReadOnlyList<AssignmentView>>;

    public sealed record AssignmentView(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("user_id")] Guid UserId,
        [property: JsonPropertyName("role_id")] Guid RoleId,
        [property: JsonPropertyName("scope")] JsonElement Scope,
        [property: JsonPropertyName("granted_by")] Guid? GrantedBy,
        [property: JsonPropertyName("granted_at")] DateTime GrantedAt);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.UserId).NotEmpty().WithMessage("userID must be a user id");
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, IReadOnlyList<AssignmentView>>
    {
        private const string UserExists = "SELECT EXISTS (SELECT 1 FROM identity.users WHERE id = @UserId)";

        private const string List = """
            SELECT id, user_id, role_id, scope::text AS scope, granted_by, granted_at
            FROM identity.user_roles
            WHERE user_id = @UserId
            ORDER BY granted_at ASC, id ASC
            """;

        public async Task<IReadOnlyList<AssignmentView>> Handle(Query query, CancellationToken cancellationToken)
        {
            if (!await db.ExecuteScalarAsync<bool>(UserExists, new { query.UserId }, cancellationToken))
            {
                throw new NotFoundException("User not found");
            }

            var rows = await db.QueryAsync<Row>(List, new { query.UserId }, cancellationToken);
            return [.. rows.Select(row => new AssignmentView(row.Id, row.UserId, row.RoleId, JsonDocument.Parse(row.Scope).RootElement.Clone(), row.GrantedBy, row.GrantedAt))];
        }

        private sealed record Row(Guid Id, Guid UserId, Guid RoleId, string Scope, Guid? GrantedBy, DateTime GrantedAt);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/users/{userId}/roles", async (Guid userId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(userId), cancellationToken)))
                .RequirePermission(Permissions.UserRoleRead)
                .WithName(nameof(ListRolesOfUser))
                .WithTags(IdentityRoutes.Roles)
                .WithSummary("List one user's role assignments")
                .ProducesErrors(400, 401, 403, 404);
    }
}
