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

/// <summary><c>POST /api/v1/drift/events/{id}/remediate</c> (seed 004, operators): makes a PENDING remediation of the
/// event's suggested fix → 201; an event has at most one, so asking again answers 200 with the one it has. 404; 409 for
/// a resolved event.</summary>
public static class CreateRemediation
{
    public sealed record Command(Guid EventId) : ICommand<Response>;

    public sealed record Response(RemediationView Remediation, bool Created);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.EventId).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Event = $"""
            SELECT e.id, e.instance_id, i.name AS instance_name, e.resolved_at, e.remediation_action, e.remediation_command
            FROM fleet.drift_events e JOIN fleet.instances i ON i.id = e.instance_id
            WHERE e.id = @Id AND {FleetVisibility.Predicate}
            FOR UPDATE OF e
            """;

        private const string Existing = $"SELECT {RemediationView.Columns} FROM fleet.drift_remediations r WHERE r.drift_event_id = @Id";

        private const string Insert = $"""
            INSERT INTO fleet.drift_remediations AS r (id, drift_event_id, instance_id, action, command, status, triggered_by, created_at)
            VALUES (@Id, @EventId, @InstanceId, @Action, @Command, 'PENDING', @UserId, @Now)
            RETURNING {RemediationView.Columns}
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var scope = FleetVisibility.Of(caller);
            var found = await db.QuerySingleOrDefaultAsync<EventRow>(Event, new { Id = command.EventId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException("Drift event not found");
            if (await db.QuerySingleOrDefaultAsync<RemediationView>(Existing, new { Id = command.EventId }, cancellationToken) is { } existing)
            {
                return new Response(existing, false);
            }

            if (found.ResolvedAt is not null)
            {
                throw new ConflictException("Drift event is already resolved");
            }

            var remediation = await db.QuerySingleAsync<RemediationView>(
                Insert,
                new { Id = Guid.CreateVersion7(), EventId = found.Id, found.InstanceId, Action = found.RemediationAction, Command = found.RemediationCommand, caller.UserId, Now = clock.GetUtcNow().UtcDateTime },
                cancellationToken);
            audit.Record("drift.remediation.create", "instance", found.InstanceId.ToString(), found.InstanceName, new { remediationId = remediation.Id, eventId = found.Id, remediation.Command });
            return new Response(remediation, true);
        }

        private sealed record EventRow
        {
            public Guid Id { get; init; }

            public Guid InstanceId { get; init; }

            public string InstanceName { get; init; } = string.Empty;

            public DateTime? ResolvedAt { get; init; }

            public string RemediationAction { get; init; } = string.Empty;

            public string? RemediationCommand { get; init; }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/drift/events/{id}/remediate", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var result = await mediator.Send(new Command(id), cancellationToken);
                    return result.Created
                        ? Results.Created($"/api/v1/drift/remediations/{result.Remediation.Id}", result.Remediation)
                        : Results.Ok(result.Remediation);
                })
                .RequirePermission(Permissions.DriftManage)
                .WithName(nameof(CreateRemediation))
                .WithTags(FleetRoutes.Drift)
                .WithSummary("Create remediation")
                .Produces<RemediationView>(StatusCodes.Status201Created)
                .Produces<RemediationView>()
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
