-- GET /api/v1/audit?limit=50&cursor=…: ListAuditLogs' count and a keyset page at a random depth.
\set depth random(0, 40)
SELECT count(*) FROM identity.audit_log a WHERE (NULL::uuid IS NULL) AND (NULL::uuid IS NULL) AND (NULL::text IS NULL) AND (NULL::text IS NULL) AND (NULL::text IS NULL) AND (NULL::timestamptz IS NULL) AND (NULL::timestamptz IS NULL);
SELECT a.id, CASE WHEN a.actor_type = 'user' THEN a.actor_id END AS user_id, u.email AS user_email, CASE WHEN a.actor_type = 'user' THEN COALESCE(NULLIF(u.name, ''), u.username, a.actor_name) END AS user_name, a.team_id, a.action, a.resource_type AS resource, a.resource_id, a.result, a.metadata::text AS metadata, a.ip_address, a.occurred_at AS timestamp
FROM (SELECT a.* FROM identity.audit_log a WHERE (a.occurred_at, a.id) < (now() - interval '1 minute' - (:depth * 150) * interval '3 seconds', 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid) ORDER BY a.occurred_at DESC, a.id DESC LIMIT 51 OFFSET 0) a
LEFT JOIN identity.users u ON a.actor_type = 'user' AND u.id = a.actor_id ORDER BY a.occurred_at DESC, a.id DESC;
