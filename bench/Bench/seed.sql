-- Benchmark seed: realistic volumes written server-side with generate_series (no round trips). Placeholders
-- {{NAME}} are filled in by the bench tool. Ids are deterministic so the load client and pgbench scripts can pick
-- random rows without a lookup: bench_uuid(kind, n).
SET maintenance_work_mem = '512MB';
SET synchronous_commit = off;

CREATE OR REPLACE FUNCTION public.bench_uuid(kind int, n bigint) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (lpad(to_hex(kind), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid $$;

-- Users: an admin (password sign-in for the session JWT, and an API key), 8 approvers with API keys, a requester.
INSERT INTO identity.users (id, username, email, name, password_hash, role)
VALUES (bench_uuid(1, 1), 'bench-admin', 'bench-admin@bench.local', 'Bench Admin', '{{PWHASH}}', 'admin'),
       (bench_uuid(1, 2), 'bench-requester', 'bench-requester@bench.local', 'Bench Requester', NULL, 'developer');
INSERT INTO identity.users (id, username, email, name, role)
SELECT bench_uuid(1, 100 + n), 'bench-approver-' || n, 'bench-approver-' || n || '@bench.local', 'Approver ' || n, 'admin'
FROM generate_series(1, 8) n;
INSERT INTO identity.api_keys (id, user_id, name, key_hash, key_prefix)
VALUES (bench_uuid(2, 1), bench_uuid(1, 1), 'bench', sha256(convert_to('capk_benchadminkey0000000000000001', 'UTF8')), 'capk_ben');
INSERT INTO identity.api_keys (id, user_id, name, key_hash, key_prefix)
SELECT bench_uuid(2, 100 + n), bench_uuid(1, 100 + n), 'bench', sha256(convert_to('capk_benchapproverkey' || n, 'UTF8')), 'capk_ben'
FROM generate_series(1, 8) n;

-- Fleet: instances across providers, regions, distros, statuses and teams; one recent heartbeat each.
INSERT INTO fleet.instances (id, name, provider, region, distro, extensions, status, team_id, tags, agent_version, os, arch,
                             last_heartbeat_at, created_at, updated_at)
SELECT bench_uuid(3, n),
       'bench-' || lpad(n::text, 6, '0'),
       (ARRAY['fly', 'docker', 'devpod', 'e2b', 'kubernetes', 'aws', 'gcp', 'azure'])[1 + n % 8],
       (ARRAY['us-east-1', 'eu-west-1', 'ap-south-1', 'us-west-2', 'eu-central-1'])[1 + (n / 8) % 5],
       (ARRAY['ubuntu', 'fedora', 'opensuse'])[1 + n % 3],
       ARRAY['node', 'python'],
       (ARRAY['RUNNING', 'RUNNING', 'RUNNING', 'STOPPED', 'SUSPENDED', 'ERROR', 'DEPLOYING', 'UNKNOWN'])[1 + (n / 3) % 8],
       CASE WHEN n % 4 = 0 THEN NULL ELSE bench_uuid(4, n % 20) END,
       jsonb_build_object('env', (ARRAY['dev', 'staging', 'prod'])[1 + n % 3], 'owner', 'team-' || (n % 20)),
       '1.4.2', 'linux', 'amd64',
       now() - (n % 600) * interval '1 second',
       now() - n * interval '37 seconds',
       now() - n * interval '11 seconds'
FROM generate_series(1, {{INSTANCES}}) n;
INSERT INTO fleet.heartbeats (instance_id, recorded_at, cpu_percent, memory_used, memory_total, disk_used, disk_total, uptime_seconds)
SELECT bench_uuid(3, n), now() - (n % 600) * interval '1 second', (n % 100)::float8, 2000000000 + n, 8000000000, 40000000000 + n, 100000000000, 86400 + n
FROM generate_series(1, {{INSTANCES}}) n;

-- Logs: the two GIN indexes are built once after the bulk load (much faster than maintaining them row by row).
DROP INDEX IF EXISTS fleet.logs_search_idx;
DROP INDEX IF EXISTS fleet.logs_message_trgm_idx;
INSERT INTO fleet.logs (id, instance_id, level, source, message, logged_at)
SELECT gen_random_uuid(),
       bench_uuid(3, 1 + (n * 7919) % {{INSTANCES}}),
       (ARRAY['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'])[1 + n % 6],
       (ARRAY['APP', 'AGENT', 'SYSTEM', 'EXTENSION', 'BUILD'])[1 + n % 5],
       (ARRAY['scheduler', 'gateway', 'worker', 'database', 'cache', 'auth', 'billing', 'storage', 'network', 'kernel',
              'ingress', 'queue', 'mailer', 'builder', 'registry', 'metrics', 'backup', 'cron', 'proxy', 'resolver'])[1 + n % 20]
       || ' ' ||
       (ARRAY['started', 'stopped', 'failed', 'retrying', 'completed', 'timed out', 'rejected', 'accepted', 'throttled', 'restarted',
              'connected', 'disconnected', 'migrated', 'compacted', 'flushed', 'evicted', 'rotated', 'synced', 'paused', 'resumed'])[1 + (n / 20) % 20]
       || ' ' ||
       (ARRAY['request', 'job', 'session', 'connection', 'snapshot', 'deployment', 'container', 'volume', 'certificate', 'token',
              'upload', 'download', 'transaction', 'checkpoint', 'lease', 'partition', 'replica', 'index', 'webhook', 'probe'])[1 + (n / 400) % 20]
       || ' id=' || n || ' took ' || (n % 997) || 'ms on ' || 'host-' || (n % 173),
       now() - (n % 500000) * interval '1 second' - interval '1 minute'
FROM generate_series(1::bigint, {{LOGS}}) n;
CREATE INDEX logs_search_idx ON fleet.logs USING gin (search_vector);
CREATE INDEX logs_message_trgm_idx ON fleet.logs USING gin (message gin_trgm_ops);

-- Audit: a long history by the admin, newest first by occurred_at.
INSERT INTO identity.audit_log (id, occurred_at, actor_type, actor_id, actor_name, action, resource_type, resource_id, resource_name, result,
                                ip_address, request_id, correlation_id, metadata)
SELECT gen_random_uuid(), now() - n * interval '3 seconds' - interval '1 minute', 'user', bench_uuid(1, 1), 'bench-admin',
       (ARRAY['instance.suspend', 'instance.resume', 'user.update', 'cluster.refresh', 'request.approve', 'api_key.create'])[1 + n % 6],
       'instance', bench_uuid(3, 1 + n % {{INSTANCES}})::text, 'bench-' || (1 + n % {{INSTANCES}}), 'success',
       '127.0.0.1', 'bench-' || n, gen_random_uuid(), jsonb_build_object('seq', n)
FROM generate_series(1, {{AUDIT}}) n;

-- Access: one workflow that needs all 8 approvers (every request is voted on by all of them, concurrently), pending
-- requests by the requester, and a queue of jobs for 9 agents (8 for the API scenario, one for pgbench).
INSERT INTO access.workflows (id, name, description, min_approvers, require_justification)
VALUES (bench_uuid(5, 1), 'bench-eight-eyes', 'benchmark workflow', 8, false);
INSERT INTO access.requests (id, requester_id, type, justification, status, workflow_id, target_provider_type, target_secret_ref, target_keys,
                             expires_at, created_at, updated_at)
SELECT bench_uuid(6, n), bench_uuid(1, 2), 'read', 'benchmark', 'pending', bench_uuid(5, 1), 'kubernetes', 'default/bench-secret-' || n,
       '["password"]', now() + interval '10 days', now() - n * interval '1 second', now() - n * interval '1 second'
FROM generate_series(1, {{REQUESTS}}) n;
INSERT INTO access.agents (id, name, scope, status, secret_hash)
SELECT bench_uuid(7, n), 'bench-agent-' || n, '{}', 'active', sha256(convert_to('bench-agent-secret-' || n, 'UTF8'))
FROM generate_series(1, 9) n;
INSERT INTO access.jobs (id, job_type, agent_scope, status, correlation_id, payload, created_at, updated_at)
SELECT bench_uuid(8, n), 'sync', '{}', 'queued', gen_random_uuid(), jsonb_build_object('seq', n), now() - interval '1 hour' + n * interval '1 millisecond', now()
FROM generate_series(1, {{JOBS}}) n;

ANALYZE;
