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

/// <summary><c>POST /api/v1/drift/remediations/{id}/dismiss</c> (seed 004, operators): drops a PENDING or FAILED
/// remediation (DISMISSED; dismissing again is harmless) → the remediation; 404; 409 while it runs or once it
/// succeeded.</summary>
public static class DismissRemediation
{
    public sealed record Command(Guid Id) : ICommand<RemediationView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, RemediationView>
    {
        private const string Find = $"""
            SELECT {RemediationView.Columns} FROM fleet.drift_remediations r JOIN fleet.instances i ON i.id = r.instance_id
            WHERE r.id = @Id AND {FleetVisibility.Predicate} FOR UPDATE OF r
            """;

        private const string Dismiss = $"UPDATE fleet.drift_remediations r SET status = 'DISMISSED', completed_at = @Now WHERE r.id = @Id RETURNING {RemediationView.Columns}";

        public async Task<RemediationView> Handle(Command command, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var remediation = await db.QuerySingleOrDefaultAsync<RemediationView>(Find, new { command.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException("Remediation not found");
            switch (remediation.Status)
            {
                case "DISMISSED":
                    return remediation;
                case "IN_PROGRESS" or "SUCCEEDED":
                    throw new ConflictException($"Remediation is {remediation.Status} and cannot be dismissed");
            }

            var dismissed = await db.QuerySingleAsync<RemediationView>(Dismiss, new { command.Id, Now = clock.GetUtcNow().UtcDateTime }, cancellationToken);
            audit.Record("drift.remediation.dismiss", "instance", dismissed.InstanceId.ToString(), null, new { remediationId = dismissed.Id });
            return dismissed;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/drift/remediations/{id}/dismiss", async (Guid id, IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.DriftManage)
                .WithName(nameof(DismissRemediation))
                .WithTags(FleetRoutes.Drift)
                .WithSummary("Dismiss remediation")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
