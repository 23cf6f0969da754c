using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Access.Agents;

/// <summary><c>POST /api/v1/agents/{id}/jobs/claim</c> (seed 003, agent): the oldest claimable job this agent's scope
/// covers — queued, or claimed under a lease that ran out — taken with <c>FOR UPDATE SKIP LOCKED</c> under a 30-second
/// lease, so concurrent agents never get the same job. 200 with the job, 204 when there is none. Claiming a patch job
/// shortens its wraps' lifetime to the workflow's <c>wrap_ttl_claimed</c>.</summary>
public static class ClaimJob
{
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    [NotAudited("empty polls are not actions; a successful claim records job.claim")]
    public sealed record Command : ICommand<ClaimedJob?>;

    public sealed record ClaimedJob(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("job_type")] string JobType,
        [property: JsonPropertyName("payload")] JsonElement Payload,
        [property: JsonPropertyName("correlation_id")] Guid CorrelationId,
        [property: JsonPropertyName("request_id")] Guid? RequestId,
        [property: JsonPropertyName("attempts")] long Attempts,
        [property: JsonPropertyName("claim_expires_at")] DateTime ClaimExpiresAt);

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, AccessMetrics metrics) : IRequestHandler<Command, ClaimedJob?>
    {
        // The oldest queued job and the oldest job whose lease ran out, each from its own partial index (migration 0131),
        // so live leases are never stepped over; the older of the two is claimed.
        private const string Claim = """
            WITH queued AS (
                SELECT id, created_at FROM access.jobs
                WHERE status = 'queued' AND CAST(@Scope AS jsonb) @> agent_scope
                ORDER BY created_at, id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
            ), expired AS (
                SELECT id, created_at FROM access.jobs
                WHERE status = 'claimed' AND claim_expires_at < now() AND CAST(@Scope AS jsonb) @> agent_scope
                ORDER BY created_at, id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
            ), next AS (
                SELECT id FROM (SELECT id, created_at FROM queued UNION ALL SELECT id, created_at FROM expired) candidates
                ORDER BY created_at, id
                LIMIT 1
            )
            UPDATE access.jobs j
            SET status = 'claimed', claimed_by = @AgentId, claimed_at = now(), claim_expires_at = now() + make_interval(secs => @LeaseSeconds),
                attempts = j.attempts + 1, updated_at = now()
            FROM next WHERE j.id = next.id
            RETURNING j.id, j.job_type, j.payload::text AS payload, j.correlation_id, j.request_id, j.attempts, j.claim_expires_at
            """;

        private const string ShortenWraps = """
            UPDATE access.wraps w SET expires_at = LEAST(w.expires_at, now() + make_interval(secs => f.wrap_ttl_claimed_seconds))
            FROM access.requests r JOIN access.workflows f ON f.id = r.workflow_id
            WHERE r.id = @RequestId AND w.request_id = r.id AND w.consumed_at IS NULL AND w.envelope IS NOT NULL
            """;

        public async Task<ClaimedJob?> Handle(Command command, CancellationToken cancellationToken)
        {
            var agent = request.RequiredAgent;
            var job = await db.QuerySingleOrDefaultAsync<Row>(Claim, new { AgentId = agent.Id, Scope = agent.ScopeJson, LeaseSeconds = Lease.TotalSeconds }, cancellationToken);
            if (job is null)
            {
                return null;
            }

            if (job.JobType == "patch" && job.RequestId is { } requestId)
            {
                await db.ExecuteAsync(ShortenWraps, new { RequestId = requestId }, cancellationToken);
            }

            audit.CorrelationId = job.CorrelationId;
            audit.Record("job.claim", "job", job.Id.ToString(), null, new { job_type = job.JobType, request_id = job.RequestId, attempt = job.Attempts });
            metrics.Claimed(job.JobType);
            return new ClaimedJob(job.Id, job.JobType, AccessJson.Parse(job.Payload), job.CorrelationId, job.RequestId, job.Attempts, job.ClaimExpiresAt);
        }

        private sealed class Row
        {
            public Guid Id { get; init; }

            public string JobType { get; init; } = string.Empty;

            public string Payload { get; init; } = "{}";

            public Guid CorrelationId { get; init; }

            public Guid? RequestId { get; init; }

            public long Attempts { get; init; }

            public DateTime ClaimExpiresAt { get; init; }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/agents/{id}/jobs/claim", async Task<IResult> (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    await mediator.Send(new Command(), cancellationToken) is { } job ? TypedResults.Ok(job) : TypedResults.NoContent())
                .RequireAgent()
                .WithName(nameof(ClaimJob))
                .WithTags(AccessRoutes.AgentApi)
                .WithSummary("Claim the next job (204 when the queue is empty)")
                .Produces<ClaimedJob>(200)
                .Produces(204)
                .ProducesErrors(400, 401);
    }
}
