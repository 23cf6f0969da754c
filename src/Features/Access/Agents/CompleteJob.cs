using System.Text.Json.Serialization;
using Capstan.Features.Access.Requests;
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
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Access.Agents;

/// <summary><c>POST /api/v1/agents/{id}/jobs/{job_id}/complete</c> (seed 003, agent) <c>{status, error?}</c>: the
/// claimant reports the outcome (204). Only the current claimant may (409 otherwise, also for a job nobody claimed);
/// repeating the report of a finished job is a 204. The request a job carries out moves to <c>executed</c> or
/// <c>failed</c> in the same transaction, and — with the GitOps integration on — its ArgoCD applications start being
/// observed.</summary>
public static class CompleteJob
{
    public sealed record Command(Guid JobId, string? Status, string? Error) : ICommand<Unit>;

    public sealed record Body(
        [property: JsonPropertyName("status")] string? Status,
        [property: JsonPropertyName("error")] string? Error);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Status).Must(status => status is "succeeded" or "failed").WithMessage("status must be succeeded or failed").OverridePropertyName("status");
            RuleFor(command => command.Error).MaximumLength(4000).OverridePropertyName("error");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, AccessMetrics metrics, IConfiguration configuration)
        : IRequestHandler<Command, Unit>
    {
        private const string Lock = """
            SELECT id, job_type, status, claimed_by, correlation_id, request_id FROM access.jobs WHERE id = @Id FOR UPDATE
            """;

        private const string Complete = """
            UPDATE access.jobs SET status = @Status, error = @Error, completed_at = now(), updated_at = now(),
                   payload = payload || jsonb_build_object('error', COALESCE(@Error, ''))
            WHERE id = @Id AND claimed_by = @AgentId AND status = 'claimed'
            """;

        private const string Observe = """
            INSERT INTO access.gitops_observations (id, request_id, mapping_id, argocd_endpoint_id, application_name, application_namespace, timeout_at)
            SELECT platform.uuid_v7(), r.id, m.id, m.argocd_endpoint_id, m.application_name, m.application_namespace, now() + interval '30 minutes'
            FROM access.requests r
            JOIN access.gitops_app_mappings m ON m.deleted_at IS NULL AND m.enabled
                AND ((m.provider_connection_id IS NOT NULL AND m.provider_connection_id::text = lower(r.target_provider_config ->> 'provider_connection_id'))
                  OR (m.secret_mapping_id IS NOT NULL AND m.secret_mapping_id::text = lower(r.target_provider_config ->> 'secret_mapping_id')))
            JOIN access.argocd_endpoints e ON e.id = m.argocd_endpoint_id AND e.deleted_at IS NULL AND e.enabled
            WHERE r.id = @Id
            """;

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var agent = request.RequiredAgent;
            var job = await db.QuerySingleOrDefaultAsync<Row>(Lock, new { Id = command.JobId }, cancellationToken)
                ?? throw new NotFoundException("job not found");
            audit.CorrelationId = job.CorrelationId;
            if (job.ClaimedBy != agent.Id)
            {
                throw new ConflictException("job not owned by this agent");
            }

            if (job.Status is "succeeded" or "failed")
            {
                audit.Record("job.complete.idempotent", "job", job.Id.ToString(), null, new { status = job.Status, reported = command.Status });
                return Unit.Value;
            }

            var error = string.IsNullOrWhiteSpace(command.Error) ? null : command.Error.Trim();
            if (await db.ExecuteAsync(Complete, new { Id = job.Id, AgentId = agent.Id, command.Status, Error = error }, cancellationToken) == 0)
            {
                throw new ConflictException("job not owned by this agent");
            }

            audit.Record("job.complete", "job", job.Id.ToString(), null, new { job_type = job.JobType, status = command.Status, request_id = job.RequestId, error });
            metrics.Completed(job.JobType, command.Status!);

            if (job.RequestId is { } requestId && job.JobType is "patch" or "read"
                && await RequestTransitions.FinishAsync(db, audit, metrics, requestId, job.Id, command.Status == "succeeded", cancellationToken) == "executed"
                && AccessRoutes.GitOpsFeature.IsEnabled(configuration))
            {
                var observed = await db.ExecuteAsync(Observe, new { Id = requestId }, cancellationToken);
                audit.Record(
                    observed > 0 ? "request.gitops_observation_started" : "request.gitops_observation_skipped",
                    "request",
                    requestId.ToString(),
                    null,
                    new { observations = observed });
            }

            return Unit.Value;
        }

        private sealed class Row
        {
            public Guid Id { get; init; }

            public string JobType { get; init; } = string.Empty;

            public string Status { get; init; } = string.Empty;

            public Guid? ClaimedBy { get; init; }

            public Guid CorrelationId { get; init; }

            public Guid? RequestId { get; init; }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/agents/{id}/jobs/{job_id}/complete", async (
                        Guid id, [Microsoft.AspNetCore.Mvc.FromRoute(Name = "job_id")] Guid jobId, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(jobId, body.Status, body.Error), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequireAgent()
                .WithName(nameof(CompleteJob))
                .WithTags(AccessRoutes.AgentApi)
                .WithSummary("Report a claimed job's outcome")
                .ProducesErrors(400, 401, 404, 409);
    }
}
