using Capstan.Features.Access.Workflows;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;

namespace Capstan.Features.Access.Requests;

/// <summary>
/// The request state machine's writes (secrets-bridge §6), each conditional on the state it leaves, so a transition
/// happens once however many callers race for it. Callers hold the request row lock (<see cref="RequestRecords.ByIdForUpdate"/>)
/// and run inside their command's transaction: the vote, the transition and the job land together or not at all.
/// </summary>
internal static class RequestTransitions
{
    private const string Approve = """
        UPDATE access.requests SET status = 'approved', decided_at = now(), job_id = @JobId, updated_at = now()
        WHERE id = @Id AND status = 'pending'
        """;

    private const string RefreshWraps = """
        UPDATE access.wraps SET expires_at = now() + make_interval(secs => @Seconds)
        WHERE request_id = @Id AND consumed_at IS NULL AND envelope IS NOT NULL
        """;

    // The job the agents claim: the target, and for a patch the wraps to fetch (seed 003 payload).
    private const string Enqueue = """
        INSERT INTO access.jobs (id, job_type, agent_scope, status, correlation_id, request_id, payload, created_by)
        SELECT @JobId, r.type, '{}'::jsonb, 'queued', r.id, r.id,
               jsonb_build_object(
                   'request_id', r.id,
                   'target_provider_type', r.target_provider_type,
                   'target_provider_config', r.target_provider_config,
                   'target_secret_ref', r.target_secret_ref,
                   'target_keys', r.target_keys,
                   'target_scope', jsonb_build_object('project_id', COALESCE(r.project_id::text, ''), 'environment', COALESCE(r.environment, '')))
               || CASE WHEN r.type = 'patch' THEN jsonb_build_object('wraps', COALESCE(
                      (SELECT jsonb_agg(jsonb_build_object('wrap_id', w.id, 'key_name', w.key_name) ORDER BY w.created_at, w.key_name)
                       FROM access.wraps w WHERE w.request_id = r.id), '[]'::jsonb))
                  ELSE '{}'::jsonb END,
               @CreatedBy
        FROM access.requests r WHERE r.id = @Id
        """;

    private const string Close = """
        UPDATE access.requests SET status = @To, reject_reason = COALESCE(@Reason, reject_reason), decided_at = now(), updated_at = now()
        WHERE id = @Id AND status = 'pending'
        """;

    private const string ExpireGuard = " AND expires_at <= now()";

    private const string Finish = """
        UPDATE access.requests SET status = @To, completed_at = now(), updated_at = now()
        WHERE id = @Id AND status = 'approved' AND job_id = @JobId
        """;

    /// <summary>Clears the ciphertext of wraps no longer needed (all of them, or only the patch values).</summary>
    private const string Scrub = """
        UPDATE access.wraps SET envelope = NULL, expires_at = LEAST(expires_at, now())
        WHERE request_id = @Id AND envelope IS NOT NULL AND (NOT @PatchOnly OR origin = 'requester')
        """;

    /// <summary>pending → approved: wraps get the approved TTL and the request's job is queued. Returns the job id, or
    /// null when the request had already left pending.</summary>
    public static async Task<Guid?> ApproveAsync(
        DbSession db, AuditTrail audit, AccessMetrics metrics, RequestRow row, WorkflowRow workflow, Guid? actorId, string reason, CancellationToken cancellationToken)
    {
        var jobId = Guid.CreateVersion7();
        if (await db.ExecuteAsync(Approve, new { row.Id, JobId = jobId }, cancellationToken) == 0)
        {
            return null;
        }

        await db.ExecuteAsync(RefreshWraps, new { row.Id, Seconds = (double)workflow.WrapTtlApprovedSeconds }, cancellationToken);
        await db.ExecuteAsync(Enqueue, new { row.Id, JobId = jobId, CreatedBy = actorId }, cancellationToken);
        audit.Record("request.transition", "request", row.Id.ToString(), null, new { from = "pending", to = "approved", reason, job_id = jobId });
        audit.Record("job.enqueue", "job", jobId.ToString(), null, new { job_type = row.Type, request_id = row.Id });
        metrics.Transitioned("pending", "approved");
        return jobId;
    }

    /// <summary>pending → rejected, cancelled or expired; the request's wraps become unusable at once. Expiry is the
    /// system's doing (<paramref name="systemActor"/>), the others the caller's.</summary>
    public static async Task<bool> CloseAsync(
        DbSession db, AuditTrail audit, AccessMetrics metrics, Guid requestId, string to, string? reason, CancellationToken cancellationToken, string? systemActor = null)
    {
        var guard = to == "expired" ? ExpireGuard : string.Empty;
        if (await db.ExecuteAsync(Close + guard, new { Id = requestId, To = to, Reason = to == "rejected" ? reason : null }, cancellationToken) == 0)
        {
            return false;
        }

        await db.ExecuteAsync(Scrub, new { Id = requestId, PatchOnly = false }, cancellationToken);
        var entry = new AuditEntry("request.transition", "request", requestId.ToString(), null, new { from = "pending", to });
        audit.Record(systemActor is null ? entry : entry with { ActorType = "system", ActorName = systemActor });
        metrics.Transitioned("pending", to);
        return true;
    }

    /// <summary>approved → executed or failed, when the request's own job completes. Patch values are cleared either way;
    /// read values stay retrievable (once each, within their TTL) while the request is executed.</summary>
    public static async Task<string?> FinishAsync(
        DbSession db, AuditTrail audit, AccessMetrics metrics, Guid requestId, Guid jobId, bool succeeded, CancellationToken cancellationToken)
    {
        var to = succeeded ? "executed" : "failed";
        if (await db.ExecuteAsync(Finish, new { Id = requestId, JobId = jobId, To = to }, cancellationToken) == 0)
        {
            return null;
        }

        await db.ExecuteAsync(Scrub, new { Id = requestId, PatchOnly = succeeded }, cancellationToken);
        audit.Record("request.transition", "request", requestId.ToString(), null, new { from = "approved", to, job_id = jobId });
        metrics.Transitioned("approved", to);
        return to;
    }
}
