using System.Text.Json.Serialization;
using Capstan.Features.Fleet.Instances;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Overview;

/// <summary><c>GET /api/v1/fleet/stats</c> (seed 004; snake_case as the upstream's dashboard reads it): the instances
/// the caller may see, destroyed ones excluded: total, count per status (every status, zero when none), count per
/// provider (most first), and <c>active_sessions</c>, the agents holding a live socket.</summary>
public static class GetFleetStats
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(
        [property: JsonPropertyName("total")] long Total,
        [property: JsonPropertyName("by_status")] IReadOnlyDictionary<string, long> ByStatus,
        [property: JsonPropertyName("by_provider")] IReadOnlyList<ProviderCount> ByProvider,
        [property: JsonPropertyName("active_sessions")] long ActiveSessions,
        [property: JsonPropertyName("updated_at")] DateTime UpdatedAt);

    public sealed record ProviderCount([property: JsonPropertyName("provider")] string Provider, [property: JsonPropertyName("count")] long Count);

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Counts = $"""
            SELECT i.status, i.provider, count(*) AS n, count(*) FILTER (WHERE {AgentPresence.Predicate}) AS online
            FROM fleet.instances i
            WHERE i.status <> 'DESTROYED' AND {FleetVisibility.Predicate}
            GROUP BY i.status, i.provider
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var now = clock.GetUtcNow().UtcDateTime;
            var counts = await db.QueryAsync<Count>(Counts, new { scope.SeesAllTeams, scope.TeamIds, PresenceCutoff = now - AgentPresence.Window }, cancellationToken);
            return new Response(
                counts.Sum(count => count.N),
                FleetVocabulary.Statuses.Where(status => status != "DESTROYED").ToDictionary(status => status, status => counts.Where(count => count.Status == status).Sum(count => count.N)),
                [.. counts.GroupBy(count => count.Provider).Select(group => new ProviderCount(group.Key, group.Sum(count => count.N)))
                    .OrderByDescending(provider => provider.Count).ThenBy(provider => provider.Provider, StringComparer.Ordinal)],
                counts.Sum(count => count.Online),
                now);
        }
    }

    internal sealed record Count
    {
        public string Status { get; init; } = string.Empty;

        public string Provider { get; init; } = string.Empty;

        public long N { get; init; }

        public long Online { get; init; }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/fleet/stats", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetFleetStats))
                .WithTags(FleetRoutes.Fleet)
                .WithSummary("Status counts, provider distribution and active sessions")
                .ProducesErrors(401, 403);
    }
}
