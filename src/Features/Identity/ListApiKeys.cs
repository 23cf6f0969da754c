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

/// <summary><c>GET /api/v1/api-keys</c>: the caller's live keys (not revoked), newest first, never the key itself.</summary>
public static class ListApiKeys
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyList<KeyView> ApiKeys);

    public sealed record KeyView
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string KeyPrefix { get; init; } = string.Empty;

        public string Role { get; init; } = string.Empty;

        public DateTime CreatedAt { get; init; }

        public DateTime? ExpiresAt { get; init; }

        public DateTime? LastUsedAt { get; init; }

        public bool Expired { get; init; }
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string List = """
            SELECT k.id, k.name, k.key_prefix, COALESCE(k.role, u.role) AS role, k.created_at, k.expires_at, k.last_used_at,
                   (k.expires_at IS NOT NULL AND k.expires_at <= @Now) AS expired
            FROM identity.api_keys k JOIN identity.users u ON u.id = k.user_id
            WHERE k.user_id = @UserId AND k.revoked_at IS NULL
            ORDER BY k.created_at DESC, k.id DESC
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken) =>
            new(await db.QueryAsync<KeyView>(List, new { request.RequiredCaller.UserId, Now = clock.GetUtcNow().UtcDateTime }, cancellationToken));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/api-keys", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.ApiKeyManage)
                .WithName(nameof(ListApiKeys))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("List your API keys")
                .ProducesErrors(401, 403);
    }
}
