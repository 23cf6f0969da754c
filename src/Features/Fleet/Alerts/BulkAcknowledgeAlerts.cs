using Capstan.Infrastructure.Audit;
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

namespace Capstan.Features.Fleet.Alerts;

/// <summary><c>POST /api/v1/alerts/bulk-acknowledge</c> (seed 004): <c>{ids[1..100]}</c>; the ACTIVE ones become
/// ACKNOWLEDGED, the rest are left alone → <c>{acknowledged, ids}</c> (the ids that changed).</summary>
public static class BulkAcknowledgeAlerts
{
    public sealed record Command(Guid[]? Ids) : ICommand<Response>;

    public sealed record Response(int Acknowledged, IReadOnlyList<Guid> Ids);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() =>
            RuleFor(command => command.Ids).Cascade(CascadeMode.Stop).NotEmpty().WithMessage("ids must list 1 to 100 alerts")
                .Must(ids => ids!.Length <= 100).WithMessage("ids must list 1 to 100 alerts")
                .Must(ids => ids!.All(id => id != Guid.Empty)).WithMessage("ids must be alert ids");
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Acknowledge = """
            UPDATE fleet.alerts SET status = 'ACKNOWLEDGED', acknowledged_at = @Now, acknowledged_by = @By
            WHERE id = ANY(@Ids) AND status = 'ACTIVE'
            RETURNING id
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var changed = await db.QueryAsync<Guid>(
                Acknowledge, new { Ids = command.Ids!.Distinct().ToArray(), Now = clock.GetUtcNow().UtcDateTime, By = caller.UserId.ToString() }, cancellationToken);
            audit.Record("alert.bulk_acknowledge", "alert", null, null, new { requested = command.Ids!.Length, acknowledged = changed });
            return new Response(changed.Count, changed);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/alerts/bulk-acknowledge", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command, cancellationToken)))
                .RequirePermission(Permissions.AlertManage)
                .WithName(nameof(BulkAcknowledgeAlerts))
                .WithTags(FleetRoutes.Alerts)
                .WithSummary("Acknowledge many alerts")
                .ProducesErrors(400, 401, 403);
    }
}
