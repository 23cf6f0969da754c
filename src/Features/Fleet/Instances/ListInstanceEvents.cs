using System.Text.Json;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Instances;

/// <summary><c>GET /api/v1/instances/{id}/events</c> (seed 004): the instance's timeline, newest first, <c>limit</c>
/// 1..100 (50), optionally of one <c>type</c>; older pages by keyset with <c>cursor</c> (the previous page's
/// <c>nextCursor</c>).</summary>
public static class ListInstanceEvents
{
    public sealed record Query(Guid Id, string? Type, int Limit, string? Cursor) : IQuery<Response>;

    public sealed record Response(Guid InstanceId, IReadOnlyList<EventView> Events, IReadOnlyList<EventView> Data, string? NextCursor);

    public sealed record EventView(Guid Id, string Type, DateTime Timestamp, Guid? ActorId, JsonElement Metadata);

    internal sealed record Position(DateTime At, Guid Id);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Id).NotEmpty();
            RuleFor(query => query.Limit).InclusiveBetween(1, 100).WithMessage("limit must be between 1 and 100");
            RuleFor(query => query.Type).MaximumLength(64);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Exists = $"SELECT EXISTS (SELECT 1 FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate})";

        private const string Select = """
            SELECT id, event_type AS type, occurred_at AS timestamp, actor_id, metadata::text AS metadata
            FROM fleet.instance_events
            WHERE instance_id = @Id
              AND (@Type::text IS NULL OR event_type = @Type)
              AND (@At::timestamptz IS NULL OR (occurred_at, id) < (@At, @After))
            ORDER BY occurred_at DESC, id DESC
            LIMIT @Take
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var position = KeysetCursor.Decode<Position>(query.Cursor);
            var scope = FleetVisibility.Of(request.RequiredCaller);
            if (!await db.ExecuteScalarAsync<bool>(Exists, new { query.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken))
            {
                throw new NotFoundException($"Instance '{query.Id}' not found");
            }

            var rows = await db.QueryAsync<Row>(
                Select,
                new { query.Id, Type = query.Type?.Trim().ToUpperInvariant(), position?.At, After = position?.Id ?? Guid.Empty, Take = query.Limit + 1 },
                cancellationToken);
            var events = rows.Take(query.Limit).Select(row => new EventView(row.Id, row.Type, row.Timestamp, row.ActorId, FleetVocabulary.JsonOrEmpty(row.Metadata))).ToList();
            var next = rows.Count > query.Limit ? KeysetCursor.Encode(new Position(events[^1].Timestamp, events[^1].Id)) : null;
            return new Response(query.Id, events, events, next);
        }
    }

    internal sealed record Row
    {
        public Guid Id { get; init; }

        public string Type { get; init; } = string.Empty;

        public DateTime Timestamp { get; init; }

        public Guid? ActorId { get; init; }

        public string Metadata { get; init; } = string.Empty;
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/instances/{id}/events", async (Guid id, string? type, int? limit, string? cursor, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id, type, limit ?? 50, cursor), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListInstanceEvents))
                .WithTags(FleetRoutes.Metrics)
                .WithSummary("Recent events timeline")
                .ProducesErrors(400, 401, 403, 404);
    }
}
