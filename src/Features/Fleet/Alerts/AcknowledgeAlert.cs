using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Alerts;

/// <summary><c>POST /api/v1/alerts/{id}/acknowledge</c> (seed 004): an ACTIVE alert becomes ACKNOWLEDGED by the
/// caller (it stays open, so the rule does not fire again until it resolves); acknowledging again changes nothing; a
/// resolved or silenced alert is a 409.</summary>
public static class AcknowledgeAlert
{
    public sealed record Command(Guid Id) : ICommand<AlertView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EventHub hub, TimeProvider clock) : IRequestHandler<Command, AlertView>
    {
        private const string Current = "SELECT status FROM fleet.alerts WHERE id = @Id FOR UPDATE";

        private const string Acknowledge = """
            UPDATE fleet.alerts SET status = 'ACKNOWLEDGED', acknowledged_at = @Now, acknowledged_by = @By WHERE id = @Id AND status = 'ACTIVE'
            """;

        private const string Select = $"SELECT {AlertRow.Columns} {AlertRow.From} WHERE a.id = @Id";

        public async Task<AlertView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var status = await db.ExecuteScalarAsync<string>(Current, new { command.Id }, cancellationToken) ?? throw new NotFoundException("Alert not found");
            if (status is "RESOLVED" or "SILENCED")
            {
                throw new ConflictException($"Alert is {status} and cannot be acknowledged");
            }

            if (status == "ACTIVE")
            {
                var now = clock.GetUtcNow().UtcDateTime;
                await db.ExecuteAsync(Acknowledge, new { command.Id, Now = now, By = caller.UserId.ToString() }, cancellationToken);
                await hub.PublishAsync(db, $"fleet.alerts.{command.Id}", new { type = "acknowledged", alertId = command.Id, by = caller.UserId }, cancellationToken);
                audit.Record("alert.acknowledge", "alert", command.Id.ToString());
            }

            return (await db.QuerySingleAsync<AlertRow>(Select, new { command.Id }, cancellationToken)).ToView();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/alerts/{id}/acknowledge", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.AlertManage)
                .WithName(nameof(AcknowledgeAlert))
                .WithTags(FleetRoutes.Alerts)
                .WithSummary("Acknowledge an alert")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
