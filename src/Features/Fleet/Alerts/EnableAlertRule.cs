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

/// <summary><c>POST /api/v1/alerts/rules/{id}/enable</c> (seed 004): the rule is evaluated again from the next run →
/// <c>{id, name, enabled: true}</c>; 404.</summary>
public static class EnableAlertRule
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(Guid Id, string Name, bool Enabled);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Enable = "UPDATE fleet.alert_rules SET enabled = true, updated_at = @Now WHERE id = @Id RETURNING name";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = await db.QuerySingleOrDefaultAsync<string>(Enable, new { command.Id, Now = clock.GetUtcNow().UtcDateTime }, cancellationToken)
                ?? throw new NotFoundException("Alert rule not found");
            audit.Record("alert_rule.enable", "alert_rule", command.Id.ToString(), name);
            return new Response(command.Id, name, true);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/alerts/rules/{id}/enable", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.AlertManage)
                .WithName(nameof(EnableAlertRule))
                .WithTags(FleetRoutes.AlertRules)
                .WithSummary("Enable an alert rule")
                .ProducesErrors(400, 401, 403, 404);
    }
}
