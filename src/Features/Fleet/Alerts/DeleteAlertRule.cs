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

namespace Capstan.Features.Fleet.Alerts;

/// <summary><c>DELETE /api/v1/alerts/rules/{id}</c> (seed 004): deletes the rule with its alerts and their delivery
/// records → <c>{message: "Rule deleted", id, name}</c>; 404.</summary>
public static class DeleteAlertRule
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(string Message, Guid Id, string Name);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        private const string Delete = "DELETE FROM fleet.alert_rules WHERE id = @Id RETURNING name";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = await db.QuerySingleOrDefaultAsync<string>(Delete, new { command.Id }, cancellationToken) ?? throw new NotFoundException("Alert rule not found");
            audit.Record("alert_rule.delete", "alert_rule", command.Id.ToString(), name);
            return new Response("Rule deleted", command.Id, name);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/alerts/rules/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.AlertManage)
                .WithName(nameof(DeleteAlertRule))
                .WithTags(FleetRoutes.AlertRules)
                .WithSummary("Delete an alert rule")
                .ProducesErrors(400, 401, 403, 404);
    }
}
