using Capstan.Infrastructure.Data;
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

/// <summary><c>GET /api/v1/logs/stats</c> (seed 004): log counts between <c>from</c> and <c>to</c> (all retained logs
/// by default): total, by level, by source (every level and source present, zero when none) and the 20 instances that
/// log most.</summary>
public static class GetLogStats
{
    public sealed record Query(DateTimeOffset? From, DateTimeOffset? To) : IQuery<Response>;

    public sealed record Response(long Total, IReadOnlyDictionary<string, long> ByLevel, IReadOnlyDictionary<string, long> BySource, IReadOnlyList<InstanceCount> TopInstances);

    public sealed record InstanceCount(Guid InstanceId, string InstanceName, long Count);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() =>
            RuleFor(query => query.To).Must((query, to) => to >= query.From).When(query => query.From is not null && query.To is not null)
                .WithMessage("to must not be before from");
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Filter = $"""
            FROM fleet.logs l
            JOIN fleet.instances i ON i.id = l.instance_id
            WHERE {FleetVisibility.Predicate}
              AND (@From::timestamptz IS NULL OR l.logged_at >= @From)
              AND (@To::timestamptz IS NULL OR l.logged_at <= @To)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var parameters = new { scope.SeesAllTeams, scope.TeamIds, From = query.From?.UtcDateTime, To = query.To?.UtcDateTime };
            var counts = await db.QueryAsync<Count>($"SELECT l.level, l.source, count(*) AS n {Filter} GROUP BY l.level, l.source", parameters, cancellationToken);
            var top = await db.QueryAsync<InstanceCount>(
                $"SELECT l.instance_id, i.name AS instance_name, count(*) AS count {Filter} GROUP BY l.instance_id, i.name ORDER BY count(*) DESC, i.name LIMIT 20",
                parameters,
                cancellationToken);
            return new Response(
                counts.Sum(count => count.N),
                FleetVocabulary.LogLevels.ToDictionary(level => level, level => counts.Where(count => count.Level == level).Sum(count => count.N)),
                FleetVocabulary.LogSources.ToDictionary(source => source, source => counts.Where(count => count.Source == source).Sum(count => count.N)),
                top);
        }
    }

    internal sealed record Count
    {
        public string Level { get; init; } = string.Empty;

        public string Source { get; init; } = string.Empty;

        public long N { get; init; }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/logs/stats", async (DateTimeOffset? from, DateTimeOffset? to, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(from, to), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetLogStats))
                .WithTags(FleetRoutes.Logs)
                .WithSummary("Fleet-wide log statistics")
                .ProducesErrors(400, 401, 403);
    }
}
