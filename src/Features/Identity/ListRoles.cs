using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity;

/// <summary><c>GET /api/v1/roles</c> (seed 003): every role, system and custom, as a bare array by name.</summary>
public static class ListRoles
{
    public sealed record Query : IQuery<IReadOnlyList<RoleView>>;

    public sealed record RoleView(
        Guid Id,
        string Name,
        string Description,
        string[] Permissions,
        [property: JsonPropertyName("is_system")] bool IsSystem,
        [property: JsonPropertyName("created_at")] DateTime CreatedAt,
        [property: JsonPropertyName("updated_at")] DateTime UpdatedAt);

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, IReadOnlyList<RoleView>>
    {
        private const string List = """
            SELECT id, name, description, permissions, is_system, created_at, updated_at
            FROM identity.roles
            ORDER BY name ASC, id ASC
            """;

        public async Task<IReadOnlyList<RoleView>> Handle(Query query, CancellationToken cancellationToken) =>
            await db.QueryAsync<RoleView>(List, null, cancellationToken);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/roles", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.RoleRead)
                .WithName(nameof(ListRoles))
                .WithTags(IdentityRoutes.Roles)
                .WithSummary("List roles")
                .ProducesErrors(401, 403);
    }
}
