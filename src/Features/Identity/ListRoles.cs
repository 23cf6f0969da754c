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
