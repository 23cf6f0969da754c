-- POST /api/v1/agents/{id}/jobs/claim: ClaimJob's claim and its audit row, in one transaction (agent 9 is pgbench's).
BEGIN;
WITH queued AS (SELECT id, created_at FROM access.jobs WHERE status = 'queued' AND CAST('{}' AS jsonb) @> agent_scope ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED),
expired AS (SELECT id, created_at FROM access.jobs WHERE status = 'claimed' AND claim_expires_at < now() AND CAST('{}' AS jsonb) @> agent_scope ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED),
next AS (SELECT id FROM (SELECT id, created_at FROM queued UNION ALL SELECT id, created_at FROM expired) candidates ORDER BY created_at, id LIMIT 1)
UPDATE access.jobs j SET status = 'claimed', claimed_by = bench_uuid(7, 9), claimed_at = now(), claim_expires_at = now() + make_interval(secs => 30), attempts = j.attempts + 1, updated_at = now()
FROM next WHERE j.id = next.id RETURNING j.id, j.job_type, j.payload::text AS payload, j.correlation_id, j.request_id, j.attempts, j.claim_expires_at;
INSERT INTO identity.audit_log (id, occurred_at, actor_type, actor_id, actor_name, action, resource_type, resource_id, result, correlation_id, metadata)
VALUES (gen_random_uuid(), now(), 'agent', bench_uuid(7, 9), 'bench-agent-9', 'job.claim', 'job', 'x', 'success', gen_random_uuid(), '{}');
COMMIT;
