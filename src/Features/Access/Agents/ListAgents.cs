using System.Text.Json;
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

namespace Capstan.Features.Access.Agents;

/// <summary><c>GET /api/v1/agents</c> (seed 003): every agent, oldest first, with its status and last heartbeat — never a
/// credential (no secret hash, no raw public key; only the key's algorithm and short fingerprint).</summary>
public static class ListAgents
{
    public sealed record Query : IQuery<IReadOnlyList<AgentView>>;

    public sealed record AgentView(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("scope")] JsonElement Scope,
        [property: JsonPropertyName("public_key_algorithm")] string? PublicKeyAlgorithm,
        [property: JsonPropertyName("public_key_sha")] string? PublicKeySha,
        [property: JsonPropertyName("last_seen_at")] DateTime? LastSeenAt,
        [property: JsonPropertyName("revoked_at")] DateTime? RevokedAt,
        [property: JsonPropertyName("created_at")] DateTime CreatedAt,
        [property: JsonPropertyName("updated_at")] DateTime UpdatedAt);

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, IReadOnlyList<AgentView>>
    {
        private const string Select = """
            SELECT id, name, status, scope::text AS scope, public_key, public_key_algorithm, last_seen_at, revoked_at, created_at, updated_at
            FROM access.agents ORDER BY created_at, id
            """;

        public async Task<IReadOnlyList<AgentView>> Handle(Query query, CancellationToken cancellationToken) =>
            [.. (await db.QueryAsync<Row>(Select, null, cancellationToken)).Select(row => new AgentView(
                row.Id, row.Name, row.Status, AccessJson.Parse(row.Scope), row.PublicKeyAlgorithm,
                row.PublicKey is null ? null : AgentKeys.Fingerprint(row.PublicKey), row.LastSeenAt, row.RevokedAt, row.CreatedAt, row.UpdatedAt))];

        private sealed class Row
        {
            public Guid Id { get; init; }

            public string Name { get; init; } = string.Empty;

            public string Status { get; init; } = string.Empty;

            public string Scope { get; init; } = "{}";

            public byte[]? PublicKey { get; init; }

            public string? PublicKeyAlgorithm { get; init; }

            public DateTime? LastSeenAt { get; init; }

            public DateTime? RevokedAt { get; init; }

            public DateTime CreatedAt { get; init; }

            public DateTime UpdatedAt { get; init; }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/agents", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.AgentList)
                .WithName(nameof(ListAgents))
                .WithTags(AccessRoutes.Agents)
                .WithSummary("List agents (no credentials)")
                .ProducesErrors(401, 403);
    }
}
