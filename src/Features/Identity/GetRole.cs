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

/// <summary><c>GET /api/v1/roles/{id}</c> (seed 003): one role; 404 when unknown, 400 for a malformed id.</summary>
public static class GetRole
{
    public sealed record Query(Guid Id) : IQuery<RoleView>;

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

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty().WithMessage("id must be a role id");
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, RoleView>
    {
        private const string Get = """
            SELECT id, name, description, permissions, is_system, created_at, updated_at
            FROM identity.roles
            WHERE id = @Id
            """;

        public async Task<RoleView> Handle(Query query, CancellationToken cancellationToken) =>
            await db.QuerySingleOrDefaultAsync<RoleView>(Get, new { query.Id }, cancellationToken) ?? throw new NotFoundException("Role not found");
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/roles/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.RoleRead)
                .WithName(nameof(GetRole))
                .WithTags(IdentityRoutes.Roles)
                .WithSummary("Get a role")
                .ProducesErrors(400, 401, 403, 404);
    }
}
