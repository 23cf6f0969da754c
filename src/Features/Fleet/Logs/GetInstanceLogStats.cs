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

namespace Capstan.Features.Fleet.Logs;

/// <summary><c>GET /api/v1/instances/{instanceId}/logs/stats</c> (seed 004): one instance's log counts between
/// <c>from</c> and <c>to</c>: total, by level and by source; 404 for an unknown instance.</summary>
public static class GetInstanceLogStats
{
    public sealed record Query(Guid InstanceId, DateTimeOffset? From, DateTimeOffset? To) : IQuery<Response>;

    public sealed record Response(Guid InstanceId, long Total, IReadOnlyDictionary<string, long> ByLevel, IReadOnlyDictionary<string, long> BySource, DateTime? LastLogAt);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.InstanceId).NotEmpty();
            RuleFor(query => query.To).Must((query, to) => to >= query.From).When(query => query.From is not null && query.To is not null)
                .WithMessage("to must not be before from");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Exists = $"SELECT EXISTS (SELECT 1 FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate})";

        private const string Counts = """
            SELECT level, source, count(*) AS n, max(logged_at) AS last_at
            FROM fleet.logs
            WHERE instance_id = @Id
              AND (@From::timestamptz IS NULL OR logged_at >= @From)
              AND (@To::timestamptz IS NULL OR logged_at <= @To)
            GROUP BY level, source
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            if (!await db.ExecuteScalarAsync<bool>(Exists, new { Id = query.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken))
            {
                throw new NotFoundException($"Instance '{query.InstanceId}' not found");
            }

            var counts = await db.QueryAsync<Count>(Counts, new { Id = query.InstanceId, From = query.From?.UtcDateTime, To = query.To?.UtcDateTime }, cancellationToken);
            return new Response(
                query.InstanceId,
                counts.Sum(count => count.N),
                FleetVocabulary.LogLevels.ToDictionary(level => level, level => counts.Where(count => count.Level == level).Sum(count => count.N)),
                FleetVocabulary.LogSources.ToDictionary(source => source, source => counts.Where(count => count.Source == source).Sum(count => count.N)),
                counts.Count == 0 ? null : counts.Max(count => count.LastAt));
        }
    }

    internal sealed record Count
    {
        public string Level { get; init; } = string.Empty;

        public string Source { get; init; } = string.Empty;

        public long N { get; init; }

        public DateTime LastAt { get; init; }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/instances/{instanceId}/logs/stats", async (Guid instanceId, DateTimeOffset? from, DateTimeOffset? to, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(instanceId, from, to), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetInstanceLogStats))
                .WithTags(FleetRoutes.Logs)
                .WithSummary("Instance log statistics")
                .ProducesErrors(400, 401, 403, 404);
    }
}
