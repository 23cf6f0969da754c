using Capstan.Infrastructure.Audit;
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

/// <summary><c>POST /api/v1/drift/events/{id}/resolve</c> (seed 004, operators): marks the drift as dealt with
/// (<c>resolvedBy: "user:&lt;id&gt;"</c>) → the event; 404; 409 when it is already resolved.</summary>
public static class ResolveDriftEvent
{
    public sealed record Command(Guid Id) : ICommand<DriftEventView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, DriftEventView>
    {
        private const string Find = $"SELECT e.resolved_at FROM fleet.drift_events e JOIN fleet.instances i ON i.id = e.instance_id WHERE e.id = @Id AND {FleetVisibility.Predicate} FOR UPDATE OF e";

        private const string Resolve = "UPDATE fleet.drift_events SET resolved_at = @Now, resolved_by = @By WHERE id = @Id";

        public async Task<DriftEventView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var scope = FleetVisibility.Of(caller);
            var found = await db.QuerySingleOrDefaultAsync<Found>(Find, new { command.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException("Drift event not found");
            if (found.ResolvedAt is not null)
            {
                throw new ConflictException("Drift event is already resolved");
            }

            await db.ExecuteAsync(Resolve, new { command.Id, Now = clock.GetUtcNow().UtcDateTime, By = $"user:{caller.UserId}" }, cancellationToken);
            var view = (await db.QuerySingleAsync<DriftRows.EventRow>($"SELECT {DriftRows.EventColumns} FROM {DriftRows.EventFrom} WHERE e.id = @Id", new { command.Id }, cancellationToken)).ToView();
            audit.Record("drift.resolve", "instance", view.InstanceId.ToString(), view.InstanceName, new { eventId = view.Id, view.FieldPath });
            return view;
        }

        private sealed record Found
        {
            public DateTime? ResolvedAt { get; init; }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/drift/events/{id}/resolve", async (Guid id, IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.DriftManage)
                .WithName(nameof(ResolveDriftEvent))
                .WithTags(FleetRoutes.Drift)
                .WithSummary("Resolve drift event")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
