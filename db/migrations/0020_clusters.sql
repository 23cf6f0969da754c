-- One registry of Kubernetes clusters (DESIGN §1.2), served as seed 001 (/api/v1/clusters, by id) and seed 002
-- (/v1/api/clusters/{name}). Gitops and delivery both use it. Credentials (kubeconfig, token, client certificate and
-- key, OIDC secrets) are one envelope-encrypted JSON document, never returned.
--   scope 'platform': registered for everyone (seed 001, admins); 'user': its owner and whom it is shared with.
CREATE TABLE clusters.clusters (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    server text NOT NULL,
    auth_type text NOT NULL,
    credentials bytea NOT NULL,
    credentials_version bigint NOT NULL DEFAULT 1,
    context text,
    contexts jsonb NOT NULL DEFAULT '[]',
    namespace text,
    insecure boolean NOT NULL DEFAULT false,
    scope text NOT NULL DEFAULT 'user',
    owner_id uuid REFERENCES identity.users (id) ON DELETE SET NULL,
    single_node boolean NOT NULL DEFAULT false,
    labels jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'unknown',
    version text,
    last_check timestamptz,
    last_error text,
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT clusters_auth_type_check CHECK (auth_type IN ('kubeconfig', 'token', 'certificate', 'serviceaccount', 'oidc')),
    CONSTRAINT clusters_scope_check CHECK (scope IN ('platform', 'user')),
    CONSTRAINT clusters_status_check CHECK (status IN ('unknown', 'connected', 'disconnected', 'error')),
    CONSTRAINT clusters_name_check CHECK (length(name) BETWEEN 1 AND 100)
);
CREATE UNIQUE INDEX clusters_name_key ON clusters.clusters (lower(name));
CREATE INDEX clusters_owner_idx ON clusters.clusters (owner_id);
CREATE INDEX clusters_last_check_idx ON clusters.clusters (last_check);

-- Seed 002's share: another user may see and use the cluster.
CREATE TABLE clusters.cluster_shares (
    cluster_id uuid NOT NULL REFERENCES clusters.clusters (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    role text NOT NULL,
    namespaces text[] NOT NULL DEFAULT '{}',
    granted_by uuid,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cluster_id, user_id),
    CONSTRAINT cluster_shares_role_check CHECK (role IN ('viewer', 'editor', 'admin'))
);
CREATE INDEX cluster_shares_user_idx ON clusters.cluster_shares (user_id);

-- Each user's default cluster (seed 002's PUT /clusters/{name}/default; the gitops default too).
CREATE TABLE clusters.user_defaults (
    user_id uuid PRIMARY KEY REFERENCES identity.users (id) ON DELETE CASCADE,
    cluster_id uuid NOT NULL REFERENCES clusters.clusters (id) ON DELETE CASCADE,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_defaults_cluster_idx ON clusters.user_defaults (cluster_id);

-- Connection log (seed 002's GET /clusters/{name}/logs): added, tests, health checks on change, shares.
CREATE TABLE clusters.connection_logs (
    id uuid PRIMARY KEY,
    cluster_id uuid NOT NULL REFERENCES clusters.clusters (id) ON DELETE CASCADE,
    user_id uuid,
    action text NOT NULL,
    success boolean NOT NULL,
    error text,
    details jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connection_logs_cluster_idx ON clusters.connection_logs (cluster_id, created_at DESC, id DESC);
CREATE INDEX connection_logs_created_idx ON clusters.connection_logs (created_at);
