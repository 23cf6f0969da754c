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

namespace Capstan.Features.Fleet.Drift;

/// <summary><c>GET /api/v1/drift/snapshots/{id}</c> (seed 004): the snapshot with its declared and actual configuration
/// and the events it found (with remediations); 404 "Snapshot not found".</summary>
public static class GetSnapshot
{
    public sealed record Query(Guid Id) : IQuery<SnapshotDetail>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, SnapshotDetail>
    {
        private const string Snapshot = $"""
            SELECT {DriftRows.SnapshotColumns} FROM fleet.config_snapshots s JOIN fleet.instances i ON i.id = s.instance_id
            WHERE s.id = @Id AND {FleetVisibility.Predicate}
            """;

        private const string Events = $"SELECT {DriftRows.EventColumns} FROM {DriftRows.EventFrom} WHERE e.snapshot_id = @Id ORDER BY e.detected_at, e.field_path";

        public async Task<SnapshotDetail> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var snapshot = await db.QuerySingleOrDefaultAsync<DriftRows.SnapshotRow>(Snapshot, new { query.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException("Snapshot not found");
            var events = await db.QueryAsync<DriftRows.EventRow>(Events, new { query.Id }, cancellationToken);
            return snapshot.ToDetail([.. events.Select(row => row.ToView())]);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/drift/snapshots/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetSnapshot))
                .WithTags(FleetRoutes.Drift)
                .WithSummary("Snapshot detail")
                .ProducesErrors(400, 401, 403, 404);
    }
}
