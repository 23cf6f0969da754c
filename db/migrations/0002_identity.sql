-- Time-ordered UUIDs (version 7) for rows created by SQL, like the ones the service makes (Guid.CreateVersion7).
CREATE FUNCTION platform.uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

-- Identity: users, sessions, API keys, login protection, settings, custom roles, Flux RBAC, sign-in providers,
-- WebSocket tickets and the append-only audit log. Shared rate-limit windows live in platform.

CREATE TABLE identity.users (
    id uuid PRIMARY KEY,
    username text NOT NULL,
    email text,
    name text NOT NULL DEFAULT '',
    password_hash text,
    role text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    requires_password_change boolean NOT NULL DEFAULT false,
    preferences jsonb NOT NULL DEFAULT '{}',
    auth_provider text NOT NULL DEFAULT 'local',
    avatar_url text,
    last_login_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_role_check CHECK (role IN ('viewer', 'developer', 'operator', 'admin')),
    CONSTRAINT users_username_lower CHECK (username = lower(username) AND length(username) BETWEEN 1 AND 64),
    CONSTRAINT users_email_lower CHECK (email = lower(email))
);
CREATE UNIQUE INDEX users_username_key ON identity.users (username);
CREATE UNIQUE INDEX users_email_key ON identity.users (email) WHERE email IS NOT NULL;

CREATE TABLE identity.sessions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    ip_address text,
    user_agent text
);
CREATE UNIQUE INDEX sessions_token_hash_key ON identity.sessions (token_hash);
CREATE INDEX sessions_user_idx ON identity.sessions (user_id, created_at);
CREATE INDEX sessions_expires_idx ON identity.sessions (expires_at);

CREATE TABLE identity.api_keys (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    name text NOT NULL,
    key_hash bytea NOT NULL,
    key_prefix text NOT NULL,
    role text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz,
    CONSTRAINT api_keys_role_check CHECK (role IN ('viewer', 'developer', 'operator', 'admin'))
);
CREATE UNIQUE INDEX api_keys_key_hash_key ON identity.api_keys (key_hash);
CREATE INDEX api_keys_user_idx ON identity.api_keys (user_id, created_at);

-- Failed sign-ins per login name (also for names that do not exist, so lockout reveals nothing).
CREATE TABLE identity.login_failures (
    login text PRIMARY KEY,
    failed_attempts bigint NOT NULL DEFAULT 0,
    locked_until timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE identity.password_history (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_history_user_idx ON identity.password_history (user_id, created_at DESC);

-- Admin settings (seed 000) and the sign-up invite code (seed 002). Defaults live in code; rows hold overrides.
CREATE TABLE identity.settings (
    key text PRIMARY KEY,
    value jsonb NOT NULL,
    updated_by uuid,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Custom roles (seed 003): named permission lists, assigned to users globally or within a scope.
CREATE TABLE identity.roles (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    permissions text [] NOT NULL DEFAULT '{}',
    is_system boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX roles_name_key ON identity.roles (name);

CREATE TABLE identity.user_roles (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    role_id uuid NOT NULL REFERENCES identity.roles (id) ON DELETE CASCADE,
    scope jsonb NOT NULL DEFAULT '{}',
    granted_by uuid,
    granted_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX user_roles_assignment_key ON identity.user_roles (user_id, role_id, scope);
CREATE INDEX user_roles_role_idx ON identity.user_roles (role_id);

INSERT INTO identity.roles (id, name, description, permissions, is_system) VALUES
    ('00000000-0000-0000-0000-00000000a001', 'admin', 'Everything an access administrator does.',
     ARRAY['role.edit', 'user_role.edit', 'team.edit', 'workflow.edit', 'policy.edit', 'integration.edit', 'agent.mint',
           'agent.revoke', 'agent.list', 'secret.list', 'secret.request', 'secret.approve', 'audit.read'], true),
    ('00000000-0000-0000-0000-00000000a002', 'approver', 'Approves or rejects secret requests.',
     ARRAY['secret.list', 'secret.approve', 'audit.read'], true),
    ('00000000-0000-0000-0000-00000000a003', 'developer', 'Requests access to secrets.',
     ARRAY['secret.list', 'secret.request', 'audit.read', 'secret.reveal.direct'], true),
    ('00000000-0000-0000-0000-00000000a004', 'value_provider', 'Fills cross-team requests for a team.',
     ARRAY['secret.value.provide'], true),
    ('00000000-0000-0000-0000-00000000a005', 'security_approver', 'Casts security votes on cross-team production requests.',
     ARRAY['secret.security.approve'], true),
    ('00000000-0000-0000-0000-00000000a006', 'provider_connection_binder', 'Binds self-service provider connections.',
     ARRAY['integration.bind'], true),
    ('00000000-0000-0000-0000-00000000a007', 'policy_author', 'Authors project-scoped policy rules for non-prod environments.',
     ARRAY['policy.author'], true);

-- Flux RBAC (seed 001, Gyre): a policy is a list of rules (resource kinds or plurals, namespace globs, actions
-- read/write/admin, clusters); empty lists match everything. A binding gives a policy to a user, optionally on one cluster.
CREATE TABLE identity.flux_policies (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    role text NOT NULL DEFAULT 'viewer',
    rules jsonb NOT NULL DEFAULT '[]',
    is_active boolean NOT NULL DEFAULT true,
    is_system boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT flux_policies_role_check CHECK (role IN ('viewer', 'developer', 'operator', 'admin'))
);
CREATE UNIQUE INDEX flux_policies_name_key ON identity.flux_policies (name);

CREATE TABLE identity.flux_bindings (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    policy_id uuid NOT NULL REFERENCES identity.flux_policies (id) ON DELETE CASCADE,
    cluster text NOT NULL DEFAULT '',
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX flux_bindings_key ON identity.flux_bindings (user_id, policy_id, cluster);
CREATE INDEX flux_bindings_policy_idx ON identity.flux_bindings (policy_id);

INSERT INTO identity.flux_policies (id, name, description, role, rules, is_system) VALUES
    ('00000000-0000-0000-0000-000000000001', 'Viewer: Read All Resources', 'Read every Flux resource in every namespace.',
     'viewer', '[{"resources": [], "namespaces": [], "actions": ["read"], "clusters": []}]', true),
    ('00000000-0000-0000-0000-000000000002', 'Editor: Read All Resources', 'Read every Flux resource in every namespace.',
     'operator', '[{"resources": [], "namespaces": [], "actions": ["read"], "clusters": []}]', true),
    ('00000000-0000-0000-0000-000000000003', 'Editor: Write All Resources', 'Change every Flux resource in every namespace.',
     'operator', '[{"resources": [], "namespaces": [], "actions": ["write"], "clusters": []}]', true);

-- OIDC / OAuth2 sign-in providers (seed 000). The client secret is envelope-encrypted and never returned.
CREATE TABLE identity.auth_providers (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    type text NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    client_id text NOT NULL,
    client_secret bytea NOT NULL,
    issuer_url text,
    authorization_url text,
    token_url text,
    user_info_url text,
    jwks_url text,
    auto_provision boolean NOT NULL DEFAULT true,
    default_role text NOT NULL DEFAULT 'viewer',
    role_mapping jsonb,
    role_claim text NOT NULL DEFAULT 'groups',
    username_claim text NOT NULL DEFAULT 'preferred_username',
    email_claim text NOT NULL DEFAULT 'email',
    use_pkce boolean NOT NULL DEFAULT true,
    scopes text NOT NULL DEFAULT 'openid profile email',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT auth_providers_type_check CHECK (type IN ('oidc', 'oauth2-github', 'oauth2-google', 'oauth2-gitlab', 'oauth2-generic')),
    CONSTRAINT auth_providers_default_role_check CHECK (default_role IN ('viewer', 'developer', 'operator', 'admin'))
);
CREATE UNIQUE INDEX auth_providers_name_key ON identity.auth_providers (name);

CREATE TABLE identity.external_accounts (
    id uuid PRIMARY KEY,
    provider_id uuid NOT NULL REFERENCES identity.auth_providers (id) ON DELETE CASCADE,
    subject text NOT NULL,
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);
CREATE UNIQUE INDEX external_accounts_subject_key ON identity.external_accounts (provider_id, subject);
CREATE INDEX external_accounts_user_idx ON identity.external_accounts (user_id);

-- In-flight authorization-code flows: single use, ten minutes.
CREATE TABLE identity.oauth_states (
    state_hash bytea PRIMARY KEY,
    provider_id uuid NOT NULL REFERENCES identity.auth_providers (id) ON DELETE CASCADE,
    code_verifier text NOT NULL,
    nonce text NOT NULL,
    flow text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

-- Seed 002's one-time codes exchanged for a token after an OAuth callback (30 seconds, single use).
CREATE TABLE identity.oauth_exchange_codes (
    code_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);

-- Single-use 30-second tickets for WebSocket upgrades (seed 004).
CREATE TABLE identity.ws_tickets (
    ticket_hash bytea PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX ws_tickets_expires_idx ON identity.ws_tickets (expires_at);

-- The audit log: one row per mutating action and per sign-in attempt, written in the action's own transaction.
-- Append-only: a trigger refuses UPDATE and DELETE, except deletes by the retention job, which sets
-- capstan.audit_retention for its transaction.
CREATE TABLE identity.audit_log (
    id uuid PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_type text NOT NULL,
    actor_id uuid,
    actor_name text,
    action text NOT NULL,
    resource_type text,
    resource_id text,
    resource_name text,
    result text NOT NULL DEFAULT 'success',
    ip_address text,
    user_agent text,
    request_id text,
    correlation_id uuid NOT NULL,
    team_id uuid,
    metadata jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT audit_log_actor_type_check CHECK (actor_type IN ('user', 'agent', 'system', 'anonymous')),
    CONSTRAINT audit_log_result_check CHECK (result IN ('success', 'failure', 'denied'))
);
CREATE INDEX audit_log_occurred_idx ON identity.audit_log (occurred_at DESC, id DESC);
CREATE INDEX audit_log_actor_idx ON identity.audit_log (actor_id, occurred_at DESC);
CREATE INDEX audit_log_action_idx ON identity.audit_log (action, occurred_at DESC);
CREATE INDEX audit_log_resource_idx ON identity.audit_log (resource_type, resource_id, occurred_at DESC);
CREATE INDEX audit_log_correlation_idx ON identity.audit_log (correlation_id);

CREATE FUNCTION identity.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('capstan.audit_retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % of %', TG_OP, OLD.id USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON identity.audit_log
FOR EACH ROW EXECUTE FUNCTION identity.audit_log_append_only();

-- Rate-limit windows shared by every replica (sliding window approximated from the current and previous window).
CREATE TABLE platform.rate_limits (
    key text NOT NULL,
    window_start timestamptz NOT NULL,
    hits bigint NOT NULL DEFAULT 0,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limits_expires_idx ON platform.rate_limits (expires_at);
