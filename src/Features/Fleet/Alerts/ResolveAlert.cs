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

/// <summary><c>POST /api/v1/alerts/{id}/resolve</c> (seed 004): an active, acknowledged or silenced alert becomes
/// RESOLVED by the caller (the rule may fire again after its cooldown); an already resolved alert is a 409.</summary>
public static class ResolveAlert
{
    public sealed record Command(Guid Id) : ICommand<AlertView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EventHub hub, TimeProvider clock) : IRequestHandler<Command, AlertView>
    {
        private const string Current = "SELECT status FROM fleet.alerts WHERE id = @Id FOR UPDATE";

        private const string Resolve = "UPDATE fleet.alerts SET status = 'RESOLVED', resolved_at = @Now, resolved_by = @By WHERE id = @Id";

        private const string Select = $"SELECT {AlertRow.Columns} {AlertRow.From} WHERE a.id = @Id";

        public async Task<AlertView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var status = await db.ExecuteScalarAsync<string>(Current, new { command.Id }, cancellationToken) ?? throw new NotFoundException("Alert not found");
            if (status == "RESOLVED")
            {
                throw new ConflictException("Alert is already resolved");
            }

            await db.ExecuteAsync(Resolve, new { command.Id, Now = clock.GetUtcNow().UtcDateTime, By = caller.UserId.ToString() }, cancellationToken);
            await hub.PublishAsync(db, $"fleet.alerts.{command.Id}", new { type = "resolved", alertId = command.Id, resolvedBy = caller.UserId }, cancellationToken);
            audit.Record("alert.resolve", "alert", command.Id.ToString(), null, new { from = status });
            return (await db.QuerySingleAsync<AlertRow>(Select, new { command.Id }, cancellationToken)).ToView();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/alerts/{id}/resolve", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.AlertManage)
                .WithName(nameof(ResolveAlert))
                .WithTags(FleetRoutes.Alerts)
                .WithSummary("Resolve an alert")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
