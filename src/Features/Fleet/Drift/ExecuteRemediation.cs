using Capstan.Features.Fleet.Commands;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Drift;

/// <summary>
/// <c>POST /api/v1/drift/remediations/{id}/execute</c> (seed 004, operators): runs the remediation's command on the
/// instance as a fleet command (<c>/bin/sh -c &lt;command&gt;</c> through the agent socket, recorded in the command
/// history) and waits for it (<c>Fleet:Drift:RemediationTimeoutMs</c>, 120000): SUCCEEDED (exit 0, and the drift event
/// resolves as <c>remediation:&lt;id&gt;</c>) or FAILED, with the command's output. A PENDING or FAILED remediation can
/// run; 409 while one runs, after success, when dismissed, when it has no command (manual action), and when the
/// instance's agent is not connected (the remediation stays as it was). 404.
/// </summary>
/// <remarks>Not a transactional command: the dispatch must commit before the agent can answer (as for
/// <c>POST /api/v1/commands</c>).</remarks>
public static class ExecuteRemediation
{
    public sealed record Command(Guid Id) : IRequest<RemediationView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EventHub hub, IConfiguration configuration, TimeProvider clock)
        : IRequestHandler<Command, RemediationView>
    {
        private const string Find = $"""
            SELECT {RemediationView.Columns}, i.name AS instance_name FROM fleet.drift_remediations r JOIN fleet.instances i ON i.id = r.instance_id
            WHERE r.id = @Id AND {FleetVisibility.Predicate} FOR UPDATE OF r
            """;

        private const string Start = """
            UPDATE fleet.drift_remediations
            SET status = 'IN_PROGRESS', started_at = @Now, completed_at = NULL, command_execution_id = @ExecutionId, triggered_by = @UserId, output = NULL, error = NULL
            WHERE id = @Id
            """;

        private const string Finish = $"""
            UPDATE fleet.drift_remediations r SET status = @Status, completed_at = @Now, output = @Output, error = @Error
            WHERE r.id = @Id AND r.status = 'IN_PROGRESS'
            RETURNING {RemediationView.Columns}
            """;

        private const string ResolveEvent = "UPDATE fleet.drift_events SET resolved_at = @Now, resolved_by = @By WHERE id = @EventId AND resolved_at IS NULL";

        public async Task<RemediationView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var scope = FleetVisibility.Of(caller);
            await using var waiter = CommandWaiter.Start(hub, cancellationToken);
            var now = clock.GetUtcNow().UtcDateTime;
            var timeoutMs = Math.Clamp(configuration.GetValue("Fleet:Drift:RemediationTimeoutMs", 120_000), 1000, 3_600_000);
            RemediationRow remediation;
            Guid executionId;
            await db.BeginAsync(cancellationToken);
            try
            {
                remediation = await db.QuerySingleOrDefaultAsync<RemediationRow>(Find, new { command.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                    ?? throw new NotFoundException("Remediation not found");
                if (remediation.Status is not ("PENDING" or "FAILED"))
                {
                    throw new ConflictException($"Remediation is {remediation.Status} and cannot be executed");
                }

                if (string.IsNullOrWhiteSpace(remediation.Command))
                {
                    throw new ConflictException($"Remediation has no command: manual action required ({remediation.Action}); resolve the drift event once done");
                }

                var spec = new CommandDispatch.Spec("/bin/sh", ["-c", remediation.Command], new Dictionary<string, string>(), null, timeoutMs, null, null);
                var target = (await CommandDispatch.DispatchAsync(db, hub, scope, [remediation.InstanceId], caller.UserId, null, spec, now, cancellationToken))[0];
                if (target.ExecutionId is not { } dispatched)
                {
                    throw target.Status == 404
                        ? new NotFoundException(target.Error!)
                        : new ConflictException($"{target.Error}: the remediation was not run and stays {remediation.Status}; retry once the agent is back");
                }

                executionId = dispatched;
                await db.ExecuteAsync(Start, new { command.Id, Now = now, ExecutionId = executionId, caller.UserId }, cancellationToken);
                audit.Record("drift.remediation.execute", "instance", remediation.InstanceId.ToString(), remediation.InstanceName,
                    new { remediationId = remediation.Id, executionId, remediation.Command });
                await audit.BeforeCommitAsync(command, db, cancellationToken);
                await db.CommitAsync(cancellationToken);
            }
            catch
            {
                await db.RollbackAsync();
                throw;
            }

            var deadline = now.AddMilliseconds(timeoutMs) + CommandDispatch.Grace(configuration);
            var execution = (await waiter.WaitAsync(db, [executionId], deadline, clock, cancellationToken))[0];
            var succeeded = execution.Status == "SUCCEEDED";
            var finished = clock.GetUtcNow().UtcDateTime;
            var error = succeeded ? null : execution.Status == "TIMEOUT" ? execution.Stderr ?? "Timed out" : $"Exit code {execution.ExitCode}{(string.IsNullOrEmpty(execution.Stderr) ? string.Empty : $": {execution.Stderr}")}";
            var view = await db.QuerySingleOrDefaultAsync<RemediationView>(
                Finish, new { command.Id, Status = succeeded ? "SUCCEEDED" : "FAILED", Now = finished, Output = execution.Stdout, Error = error }, cancellationToken);
            if (succeeded)
            {
                await db.ExecuteAsync(ResolveEvent, new { EventId = remediation.DriftEventId, Now = finished, By = $"remediation:{remediation.Id}" }, cancellationToken);
            }

            return view ?? await db.QuerySingleAsync<RemediationView>($"SELECT {RemediationView.Columns} FROM fleet.drift_remediations r WHERE r.id = @Id", new { command.Id }, cancellationToken);
        }

        private sealed record RemediationRow
        {
            public Guid Id { get; init; }

            public Guid DriftEventId { get; init; }

            public Guid InstanceId { get; init; }

            public string InstanceName { get; init; } = string.Empty;

            public string Action { get; init; } = string.Empty;

            public string? Command { get; init; }

            public string Status { get; init; } = string.Empty;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/drift/remediations/{id}/execute", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.DriftManage)
                .WithName(nameof(ExecuteRemediation))
                .WithTags(FleetRoutes.Drift)
                .WithSummary("Execute remediation")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
