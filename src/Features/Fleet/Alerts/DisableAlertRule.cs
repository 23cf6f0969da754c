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

/// <summary><c>POST /api/v1/alerts/rules/{id}/disable</c> (seed 004): the rule is no longer evaluated, and its open
/// alerts are resolved (nothing would ever resolve them otherwise) as <c>system:rule-disabled</c> → <c>{id, name,
/// enabled: false, resolvedAlerts}</c>; 404.</summary>
public static class DisableAlertRule
{
    public const string Resolver = "system:rule-disabled";

    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(Guid Id, string Name, bool Enabled, int ResolvedAlerts);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Disable = "UPDATE fleet.alert_rules SET enabled = false, updated_at = @Now WHERE id = @Id RETURNING name";

        private const string ResolveOpen = $"""
            UPDATE fleet.alerts SET status = 'RESOLVED', resolved_at = @Now, resolved_by = '{Resolver}'
            WHERE rule_id = @Id AND status IN ('ACTIVE', 'ACKNOWLEDGED')
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow().UtcDateTime;
            var name = await db.QuerySingleOrDefaultAsync<string>(Disable, new { command.Id, Now = now }, cancellationToken)
                ?? throw new NotFoundException("Alert rule not found");
            var resolved = await db.ExecuteAsync(ResolveOpen, new { command.Id, Now = now }, cancellationToken);
            audit.Record("alert_rule.disable", "alert_rule", command.Id.ToString(), name, new { resolvedAlerts = resolved });
            return new Response(command.Id, name, false, resolved);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/alerts/rules/{id}/disable", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.AlertManage)
                .WithName(nameof(DisableAlertRule))
                .WithTags(FleetRoutes.AlertRules)
                .WithSummary("Disable an alert rule")
                .ProducesErrors(400, 401, 403, 404);
    }
}
