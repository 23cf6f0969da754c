-- Access (seed 003, Secrets Bridge): tenancy, agents, approval workflows and policies, access requests with votes,
-- agent jobs, single-use wraps, discovered secrets and the ArgoCD integration. No column ever holds a secret value in
-- clear: wraps and ArgoCD tokens are envelope-encrypted (EnvelopeCipher), agent secrets are stored as SHA-256.

CREATE TABLE access.projects (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    owner_team_id text,
    status text NOT NULL DEFAULT 'active',
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projects_status_check CHECK (status IN ('active', 'archived')),
    CONSTRAINT projects_name_check CHECK (length(name) BETWEEN 1 AND 200)
);
CREATE UNIQUE INDEX projects_name_key ON access.projects (lower(name));

-- kind is fixed at creation (the PROD invariant depends on it); an environment of type prod is always kind prod.
CREATE TABLE access.environments (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES access.projects (id) ON DELETE CASCADE,
    name text NOT NULL,
    type text NOT NULL DEFAULT 'other',
    kind text NOT NULL,
    risk_level bigint NOT NULL DEFAULT 1,
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT environments_type_check CHECK (type IN ('dev', 'staging', 'uat', 'prod', 'other')),
    CONSTRAINT environments_kind_check CHECK (kind IN ('non_prod', 'prod')),
    CONSTRAINT environments_prod_kind_check CHECK (type <> 'prod' OR kind = 'prod'),
    CONSTRAINT environments_risk_check CHECK (risk_level BETWEEN 0 AND 4)
);
CREATE UNIQUE INDEX environments_project_name_key ON access.environments (project_id, lower(name));

CREATE TABLE access.agents (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    scope jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'active',
    secret_hash bytea NOT NULL,
    public_key bytea,
    public_key_algorithm text,
    last_seen_at timestamptz,
    created_by uuid,
    revoked_at timestamptz,
    revoked_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agents_status_check CHECK (status IN ('active', 'stale', 'revoked')),
    CONSTRAINT agents_key_check CHECK ((public_key IS NULL) = (public_key_algorithm IS NULL)),
    CONSTRAINT agents_key_algorithm_check CHECK (public_key_algorithm IN ('x25519')),
    CONSTRAINT agents_key_length_check CHECK (public_key IS NULL OR octet_length(public_key) = 32),
    CONSTRAINT agents_scope_check CHECK (jsonb_typeof(scope) = 'object')
);
CREATE UNIQUE INDEX agents_name_key ON access.agents (name);

-- Approval workflows (not delivery's): how many votes, by whom, and the lifetimes of wraps and requests.
CREATE TABLE access.workflows (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    min_approvers bigint NOT NULL DEFAULT 1,
    approver_role_id uuid REFERENCES identity.roles (id) ON DELETE SET NULL,
    wrap_ttl_created_seconds bigint NOT NULL DEFAULT 604800,
    wrap_ttl_approved_seconds bigint NOT NULL DEFAULT 3600,
    wrap_ttl_claimed_seconds bigint NOT NULL DEFAULT 300,
    request_ttl_seconds bigint NOT NULL DEFAULT 1209600,
    require_justification boolean NOT NULL DEFAULT true,
    allow_self_approval boolean NOT NULL DEFAULT false,
    notification_channels jsonb NOT NULL DEFAULT '[]',
    is_default boolean NOT NULL DEFAULT false,
    enabled boolean NOT NULL DEFAULT true,
    is_system boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workflows_min_approvers_check CHECK (min_approvers BETWEEN 0 AND 100),
    CONSTRAINT workflows_ttl_check CHECK (
        wrap_ttl_created_seconds > 0 AND wrap_ttl_approved_seconds > 0 AND wrap_ttl_claimed_seconds > 0 AND request_ttl_seconds > 0),
    CONSTRAINT workflows_channels_check CHECK (jsonb_typeof(notification_channels) = 'array')
);
CREATE UNIQUE INDEX workflows_name_key ON access.workflows (name);
-- At most one default workflow.
CREATE UNIQUE INDEX workflows_default_key ON access.workflows (is_default) WHERE is_default;

-- Policy rules map a request's scope (selector) to a workflow; highest priority first, oldest first on ties.
CREATE TABLE access.policies (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    selector jsonb NOT NULL DEFAULT '{}',
    workflow_id uuid NOT NULL REFERENCES access.workflows (id) ON DELETE CASCADE,
    priority bigint NOT NULL DEFAULT 100,
    enabled boolean NOT NULL DEFAULT true,
    is_system boolean NOT NULL DEFAULT false,
    direct_reveal_allowed boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT policies_selector_check CHECK (jsonb_typeof(selector) = 'object'),
    -- The PROD invariant: a rule pinned to prod environments never allows a direct reveal.
    CONSTRAINT policies_prod_reveal_check CHECK (NOT (direct_reveal_allowed AND selector ->> 'environment_kind' = 'prod'))
);
CREATE INDEX policies_order_idx ON access.policies (priority DESC, created_at) WHERE enabled;
CREATE INDEX policies_workflow_idx ON access.policies (workflow_id);

CREATE TABLE access.requests (
    id uuid PRIMARY KEY,
    requester_id uuid NOT NULL,
    type text NOT NULL,
    justification text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'pending',
    workflow_id uuid NOT NULL REFERENCES access.workflows (id),
    policy_id uuid REFERENCES access.policies (id) ON DELETE SET NULL,
    project_id uuid REFERENCES access.projects (id),
    environment text,
    environment_id uuid REFERENCES access.environments (id) ON DELETE SET NULL,
    target_provider_type text NOT NULL,
    target_provider_config jsonb NOT NULL DEFAULT '{}',
    target_secret_ref text NOT NULL,
    target_keys jsonb NOT NULL DEFAULT '[]',
    direct_reveal boolean NOT NULL DEFAULT false,
    job_id uuid,
    reject_reason text,
    expires_at timestamptz NOT NULL,
    decided_at timestamptz,
    completed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT requests_type_check CHECK (type IN ('read', 'patch')),
    CONSTRAINT requests_status_check CHECK (
        status IN ('pending', 'approved', 'rejected', 'cancelled', 'executed', 'failed', 'expired')),
    CONSTRAINT requests_config_check CHECK (jsonb_typeof(target_provider_config) = 'object'),
    CONSTRAINT requests_keys_check CHECK (jsonb_typeof(target_keys) = 'array')
);
CREATE INDEX requests_status_idx ON access.requests (status, created_at DESC);
CREATE INDEX requests_requester_idx ON access.requests (requester_id, created_at DESC);
CREATE INDEX requests_project_idx ON access.requests (project_id) WHERE project_id IS NOT NULL;
CREATE INDEX requests_workflow_idx ON access.requests (workflow_id);
CREATE INDEX requests_pending_expiry_idx ON access.requests (expires_at) WHERE status = 'pending';

-- One vote per approver per request.
CREATE TABLE access.approvals (
    id uuid PRIMARY KEY,
    request_id uuid NOT NULL REFERENCES access.requests (id) ON DELETE CASCADE,
    approver_id uuid NOT NULL,
    decision text NOT NULL,
    comment text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT approvals_decision_check CHECK (decision IN ('approve', 'reject'))
);
CREATE UNIQUE INDEX approvals_vote_key ON access.approvals (request_id, approver_id);

-- The agents' queue: claimed with FOR UPDATE SKIP LOCKED under a lease; an expired lease is claimable again.
CREATE TABLE access.jobs (
    id uuid PRIMARY KEY,
    job_type text NOT NULL,
    agent_scope jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'queued',
    correlation_id uuid NOT NULL,
    request_id uuid REFERENCES access.requests (id) ON DELETE SET NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    claimed_by uuid REFERENCES access.agents (id) ON DELETE SET NULL,
    claimed_at timestamptz,
    claim_expires_at timestamptz,
    attempts bigint NOT NULL DEFAULT 0,
    error text,
    completed_at timestamptz,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobs_type_check CHECK (job_type IN ('sync', 'discover', 'verify', 'delete', 'patch', 'read')),
    CONSTRAINT jobs_status_check CHECK (status IN ('queued', 'claimed', 'succeeded', 'failed')),
    CONSTRAINT jobs_scope_check CHECK (jsonb_typeof(agent_scope) = 'object'),
    CONSTRAINT jobs_payload_check CHECK (jsonb_typeof(payload) = 'object')
);
CREATE INDEX jobs_claimable_idx ON access.jobs (created_at, id) WHERE status IN ('queued', 'claimed');
-- A request is carried out by exactly one job.
CREATE UNIQUE INDEX jobs_request_key ON access.jobs (request_id) WHERE request_id IS NOT NULL AND job_type IN ('patch', 'read');

-- Single-use values. envelope is the EnvelopeCipher ciphertext bound to the wrap id; it is cleared once the wrap is
-- consumed, expired or no longer needed, so only hashes and lengths remain.
CREATE TABLE access.wraps (
    id uuid PRIMARY KEY,
    request_id uuid NOT NULL REFERENCES access.requests (id) ON DELETE CASCADE,
    key_name text NOT NULL,
    envelope bytea,
    kms_key_id text NOT NULL,
    content_hash bytea NOT NULL,
    byte_length bigint NOT NULL,
    origin text NOT NULL,
    expires_at timestamptz NOT NULL,
    consumed_at timestamptz,
    consumed_by_agent uuid,
    consumed_by_user uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT wraps_origin_check CHECK (origin IN ('requester', 'agent')),
    CONSTRAINT wraps_length_check CHECK (byte_length >= 0),
    CONSTRAINT wraps_one_shot_check CHECK (
        (consumed_at IS NULL AND consumed_by_agent IS NULL AND consumed_by_user IS NULL)
        OR (consumed_at IS NOT NULL AND ((consumed_by_agent IS NULL) <> (consumed_by_user IS NULL))))
);
CREATE UNIQUE INDEX wraps_request_key ON access.wraps (request_id, key_name);
CREATE INDEX wraps_live_expiry_idx ON access.wraps (expires_at) WHERE envelope IS NOT NULL;

-- Secrets the agents discovered in providers: metadata only, keyed by (cluster, provider, ref).
CREATE TABLE access.discovered_secrets (
    id uuid PRIMARY KEY,
    cluster_name text NOT NULL,
    provider_type text NOT NULL,
    secret_ref text NOT NULL,
    provider_config jsonb NOT NULL DEFAULT '{}',
    labels jsonb NOT NULL DEFAULT '{}',
    version text,
    checksum text,
    created_at_source timestamptz,
    updated_at_source timestamptz,
    status text NOT NULL DEFAULT 'present',
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    reported_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT discovered_secrets_status_check CHECK (status IN ('present', 'missing')),
    CONSTRAINT discovered_secrets_labels_check CHECK (jsonb_typeof(labels) = 'object')
);
CREATE UNIQUE INDEX discovered_secrets_key ON access.discovered_secrets (cluster_name, provider_type, secret_ref);
CREATE INDEX discovered_secrets_labels_idx ON access.discovered_secrets USING gin (labels jsonb_path_ops);
CREATE INDEX discovered_secrets_seen_idx ON access.discovered_secrets (last_seen_at) WHERE status = 'present';

-- ArgoCD (opt-in): endpoints with an envelope-encrypted token, app mappings, and observations of executed requests.
CREATE TABLE access.argocd_endpoints (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    environment_id uuid REFERENCES access.environments (id) ON DELETE SET NULL,
    base_url text NOT NULL,
    token_envelope bytea NOT NULL,
    kms_key_id text NOT NULL,
    tls_ca_pem text,
    tls_server_name text,
    enabled boolean NOT NULL DEFAULT true,
    last_health_at timestamptz,
    last_health_error text,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE UNIQUE INDEX argocd_endpoints_name_key ON access.argocd_endpoints (name) WHERE deleted_at IS NULL;

CREATE TABLE access.gitops_app_mappings (
    id uuid PRIMARY KEY,
    secret_mapping_id uuid,
    provider_connection_id uuid,
    argocd_endpoint_id uuid NOT NULL REFERENCES access.argocd_endpoints (id),
    application_name text NOT NULL,
    application_namespace text,
    project_name text,
    cluster_name text,
    enabled boolean NOT NULL DEFAULT true,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT gitops_app_mappings_anchor_check CHECK ((secret_mapping_id IS NULL) <> (provider_connection_id IS NULL))
);
CREATE INDEX gitops_app_mappings_endpoint_idx ON access.gitops_app_mappings (argocd_endpoint_id);

CREATE TABLE access.gitops_observations (
    id uuid PRIMARY KEY,
    request_id uuid NOT NULL REFERENCES access.requests (id) ON DELETE CASCADE,
    mapping_id uuid REFERENCES access.gitops_app_mappings (id) ON DELETE SET NULL,
    argocd_endpoint_id uuid NOT NULL REFERENCES access.argocd_endpoints (id),
    application_name text NOT NULL,
    application_namespace text,
    polling_state text NOT NULL DEFAULT 'queued',
    observed_state jsonb NOT NULL DEFAULT '{}',
    last_polled_at timestamptz,
    polls_count bigint NOT NULL DEFAULT 0,
    last_error text,
    timeout_at timestamptz NOT NULL,
    terminal_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT gitops_observations_state_check CHECK (
        polling_state IN ('queued', 'active', 'applied', 'applied_unverified', 'failed'))
);
CREATE INDEX gitops_observations_request_idx ON access.gitops_observations (request_id, created_at);
CREATE INDEX gitops_observations_endpoint_idx ON access.gitops_observations (argocd_endpoint_id);
CREATE INDEX gitops_observations_open_idx ON access.gitops_observations (last_polled_at NULLS FIRST)
WHERE polling_state IN ('queued', 'active');

-- The system default workflow (one approval by anyone holding secret.approve, never the requester) and the
-- match-all rule that points at it. Both may be edited; neither may be deleted.
INSERT INTO access.workflows (id, name, description, is_default, is_system) VALUES
    ('00000000-0000-0000-0000-0000000ac001', 'standard', 'One approval by another user holding secret.approve.', true, true);

INSERT INTO access.policies (id, name, selector, workflow_id, priority, is_system) VALUES
    ('00000000-0000-0000-0000-0000000ac002', 'match-all (system default)', '{}', '00000000-0000-0000-0000-0000000ac001', 0, true);
