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

/// <summary><c>GET /api/v1/drift/instances/{instanceId}/latest</c> (seed 004): the instance's newest snapshot with every
/// drift of the instance still unresolved (whichever snapshot found it); 404 "No snapshot found for this instance" (also
/// for an instance the caller may not see).</summary>
public static class GetLatestSnapshot
{
    public sealed record Query(Guid InstanceId) : IQuery<SnapshotDetail>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.InstanceId).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, SnapshotDetail>
    {
        private const string Snapshot = $"""
            SELECT {DriftRows.SnapshotColumns} FROM fleet.config_snapshots s JOIN fleet.instances i ON i.id = s.instance_id
            WHERE s.instance_id = @InstanceId AND {FleetVisibility.Predicate}
            ORDER BY s.taken_at DESC, s.id DESC LIMIT 1
            """;

        private const string Events = $"""
            SELECT {DriftRows.EventColumns} FROM {DriftRows.EventFrom}
            WHERE e.instance_id = @InstanceId AND e.resolved_at IS NULL ORDER BY e.detected_at, e.field_path
            """;

        public async Task<SnapshotDetail> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var snapshot = await db.QuerySingleOrDefaultAsync<DriftRows.SnapshotRow>(Snapshot, new { query.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException("No snapshot found for this instance");
            var events = await db.QueryAsync<DriftRows.EventRow>(Events, new { query.InstanceId }, cancellationToken);
            return snapshot.ToDetail([.. events.Select(row => row.ToView())]);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/drift/instances/{instanceId}/latest", async (Guid instanceId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(instanceId), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetLatestSnapshot))
                .WithTags(FleetRoutes.Drift)
                .WithSummary("Latest snapshot for instance")
                .ProducesErrors(400, 401, 403, 404);
    }
}
