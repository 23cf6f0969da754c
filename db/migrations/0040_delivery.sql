-- Delivery (seed 002, KubeOrch): visual deployment workflows rendered to Kubernetes manifests and applied, their
-- versions and runs, the objects they applied, resources tracked per user, image builds, Docker Compose imports,
-- container registries, plugins and templates (kept as data), and the dashboard's monthly snapshots.
-- Everything a user makes belongs to them (DESIGN §3): another user's row is a 404.

CREATE TABLE delivery.workflows (
    id uuid PRIMARY KEY,
    owner_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    -- KubeOrch's cluster_id is the cluster's name (empty: the owner's default cluster).
    cluster_id text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'draft',
    tags text[] NOT NULL DEFAULT '{}',
    nodes jsonb NOT NULL DEFAULT '[]',
    edges jsonb NOT NULL DEFAULT '[]',
    current_version bigint NOT NULL DEFAULT 1,
    run_count bigint NOT NULL DEFAULT 0,
    success_count bigint NOT NULL DEFAULT 0,
    failure_count bigint NOT NULL DEFAULT 0,
    last_run_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT workflows_status_check CHECK (status IN ('draft', 'published', 'archived')),
    CONSTRAINT workflows_name_check CHECK (length(name) BETWEEN 1 AND 200)
);
CREATE INDEX workflows_owner_idx ON delivery.workflows (owner_id, updated_at DESC) WHERE deleted_at IS NULL;

-- Snapshots of a workflow's graph: v1 at creation, one per run (automatic), manual ones, restores.
CREATE TABLE delivery.workflow_versions (
    id uuid PRIMARY KEY,
    workflow_id uuid NOT NULL REFERENCES delivery.workflows (id) ON DELETE CASCADE,
    version bigint NOT NULL,
    nodes jsonb NOT NULL,
    edges jsonb NOT NULL,
    name text,
    tag text,
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid,
    restored_from bigint,
    is_automatic boolean NOT NULL DEFAULT false,
    run_id uuid,
    run_status text,
    CONSTRAINT workflow_versions_number_check CHECK (version >= 1)
);
CREATE UNIQUE INDEX workflow_versions_number_key ON delivery.workflow_versions (workflow_id, version);

-- One execution of a workflow. Secret values sent with a run are applied and never stored: trigger_data keeps
-- only who triggered it and which nodes received values.
CREATE TABLE delivery.workflow_runs (
    id uuid PRIMARY KEY,
    workflow_id uuid NOT NULL REFERENCES delivery.workflows (id) ON DELETE CASCADE,
    version bigint NOT NULL,
    status text NOT NULL,
    cluster_id uuid,
    cluster_name text NOT NULL DEFAULT '',
    started_at timestamptz NOT NULL,
    completed_at timestamptz,
    duration_ms bigint,
    node_states jsonb NOT NULL DEFAULT '{}',
    output jsonb NOT NULL DEFAULT '{}',
    logs jsonb NOT NULL DEFAULT '[]',
    error text,
    triggered_by text NOT NULL DEFAULT 'manual',
    trigger_data jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT workflow_runs_status_check CHECK (status IN ('running', 'completed', 'failed', 'cancelled'))
);
CREATE INDEX workflow_runs_workflow_idx ON delivery.workflow_runs (workflow_id, started_at DESC, id DESC);

-- What the runs of a workflow applied, so archiving (and nodes removed on save) delete exactly those objects.
CREATE TABLE delivery.workflow_objects (
    workflow_id uuid NOT NULL REFERENCES delivery.workflows (id) ON DELETE CASCADE,
    cluster_id uuid NOT NULL REFERENCES clusters.clusters (id) ON DELETE CASCADE,
    node_id text NOT NULL,
    api_version text NOT NULL,
    kind text NOT NULL,
    namespace text NOT NULL DEFAULT '',
    name text NOT NULL,
    last_run_id uuid,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, cluster_id, api_version, kind, namespace, name)
);
CREATE INDEX workflow_objects_cluster_idx ON delivery.workflow_objects (cluster_id);

-- Kubernetes objects a user tracks (filled by sync). Secrets keep key names only, never values.
CREATE TABLE delivery.resources (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    cluster_id uuid REFERENCES clusters.clusters (id) ON DELETE CASCADE,
    cluster_name text NOT NULL,
    namespace text NOT NULL DEFAULT '',
    name text NOT NULL,
    kind text NOT NULL,
    api_version text NOT NULL,
    uid text,
    resource_version text,
    status text NOT NULL DEFAULT 'unknown',
    labels jsonb NOT NULL DEFAULT '{}',
    annotations jsonb NOT NULL DEFAULT '{}',
    owner_references jsonb NOT NULL DEFAULT '[]',
    spec jsonb NOT NULL DEFAULT '{}',
    state jsonb NOT NULL DEFAULT '{}',
    metadata jsonb NOT NULL DEFAULT '{}',
    workflow_id uuid,
    workflow_name text,
    user_tags text[] NOT NULL DEFAULT '{}',
    user_notes text NOT NULL DEFAULT '',
    is_favorite boolean NOT NULL DEFAULT false,
    created_at timestamptz,
    first_discovered_at timestamptz NOT NULL DEFAULT now(),
    last_synced_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT resources_status_check CHECK (status IN ('running', 'pending', 'failed', 'completed', 'unknown', 'deleted', 'warning'))
);
CREATE UNIQUE INDEX resources_identity_key ON delivery.resources (user_id, cluster_name, namespace, name, kind);
CREATE INDEX resources_user_idx ON delivery.resources (user_id, created_at DESC) WHERE deleted_at IS NULL;

CREATE TABLE delivery.resource_history (
    id uuid PRIMARY KEY,
    resource_id uuid NOT NULL REFERENCES delivery.resources (id) ON DELETE CASCADE,
    user_id uuid NOT NULL,
    action text NOT NULL,
    changes jsonb NOT NULL DEFAULT '{}',
    old_status text,
    new_status text,
    message text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX resource_history_resource_idx ON delivery.resource_history (resource_id, created_at DESC);

-- One resource sync per user at a time; its state lets clients (and tests) see when it finished.
CREATE TABLE delivery.resource_syncs (
    user_id uuid PRIMARY KEY REFERENCES identity.users (id) ON DELETE CASCADE,
    status text NOT NULL,
    started_at timestamptz NOT NULL,
    completed_at timestamptz,
    clusters bigint NOT NULL DEFAULT 0,
    resources bigint NOT NULL DEFAULT 0,
    error text,
    CONSTRAINT resource_syncs_status_check CHECK (status IN ('running', 'completed', 'failed'))
);

-- Container registries (admin-managed, read by everyone). Credentials are one sealed JSON document.
CREATE TABLE delivery.registries (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    registry_type text NOT NULL,
    registry_url text NOT NULL DEFAULT '',
    preview_url text,
    credentials bytea NOT NULL,
    status text NOT NULL DEFAULT 'unknown',
    last_check timestamptz,
    last_error text,
    is_default boolean NOT NULL DEFAULT false,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT registries_type_check CHECK (registry_type IN ('dockerhub', 'ghcr', 'ecr', 'gcr', 'acr', 'custom')),
    CONSTRAINT registries_status_check CHECK (status IN ('unknown', 'connected', 'failed')),
    CONSTRAINT registries_name_check CHECK (length(name) BETWEEN 1 AND 100)
);
CREATE UNIQUE INDEX registries_name_key ON delivery.registries (lower(name));
CREATE UNIQUE INDEX registries_default_key ON delivery.registries (registry_type) WHERE is_default;

-- Image builds, each a Kubernetes Job in the target cluster.
CREATE TABLE delivery.builds (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    workflow_id uuid REFERENCES delivery.workflows (id) ON DELETE SET NULL,
    cluster_id uuid REFERENCES clusters.clusters (id) ON DELETE SET NULL,
    cluster_name text NOT NULL DEFAULT '',
    namespace text NOT NULL DEFAULT '',
    job_name text NOT NULL DEFAULT '',
    repo_url text NOT NULL,
    branch text NOT NULL,
    commit_sha text,
    build_context text NOT NULL DEFAULT '.',
    dockerfile text,
    build_args jsonb NOT NULL DEFAULT '{}',
    use_nixpacks boolean NOT NULL DEFAULT false,
    registry_id uuid REFERENCES delivery.registries (id) ON DELETE SET NULL,
    image_name text NOT NULL,
    image_tag text NOT NULL,
    image_ref text NOT NULL DEFAULT '',
    status text NOT NULL DEFAULT 'pending',
    current_stage text NOT NULL DEFAULT 'Queued',
    progress bigint NOT NULL DEFAULT 0,
    final_image_ref text,
    image_digest text,
    image_size bigint,
    error_message text,
    error_stage text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    duration_ms bigint,
    CONSTRAINT builds_status_check CHECK (status IN ('pending', 'cloning', 'building', 'pushing', 'completed', 'failed', 'cancelled'))
);
CREATE INDEX builds_user_idx ON delivery.builds (user_id, created_at DESC, id DESC);
CREATE INDEX builds_active_idx ON delivery.builds (updated_at) WHERE status IN ('pending', 'cloning', 'building', 'pushing');

-- Docker Compose / Git imports: analysed at once (uploaded files) or in the background (Git clones).
CREATE TABLE delivery.import_sessions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    source text NOT NULL,
    url text NOT NULL DEFAULT '',
    branch text NOT NULL DEFAULT '',
    file_name text NOT NULL DEFAULT '',
    namespace text NOT NULL DEFAULT 'default',
    workflow_id uuid,
    status text NOT NULL DEFAULT 'pending',
    current_stage text NOT NULL DEFAULT '',
    progress bigint NOT NULL DEFAULT 0,
    analysis jsonb,
    logs jsonb NOT NULL DEFAULT '[]',
    error_message text,
    error_stage text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    CONSTRAINT import_sessions_status_check CHECK (status IN ('pending', 'cloning', 'analyzing', 'completed', 'failed'))
);
CREATE INDEX import_sessions_user_idx ON delivery.import_sessions (user_id, created_at DESC);
CREATE INDEX import_sessions_active_idx ON delivery.import_sessions (updated_at) WHERE status IN ('pending', 'cloning', 'analyzing');

-- Node templates (the twelve core kinds) and plugins (CRD node types), kept as data.
CREATE TABLE delivery.templates (
    id text PRIMARY KEY,
    name text NOT NULL,
    display_name text NOT NULL,
    category text NOT NULL,
    description text NOT NULL,
    icon text NOT NULL,
    version text NOT NULL,
    tags text[] NOT NULL DEFAULT '{}',
    usage_frequency text NOT NULL,
    difficulty text NOT NULL,
    dependencies text[] NOT NULL DEFAULT '{}',
    parameters jsonb NOT NULL DEFAULT '[]',
    position bigint NOT NULL
);

CREATE TABLE delivery.plugins (
    id text PRIMARY KEY,
    name text NOT NULL,
    display_name text NOT NULL,
    description text NOT NULL,
    category text NOT NULL,
    version text NOT NULL,
    crd_group text NOT NULL,
    crd_kinds text[] NOT NULL DEFAULT '{}',
    node_types jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Enabling a plugin is per user; nothing is installed in a cluster.
CREATE TABLE delivery.user_plugins (
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    plugin_id text NOT NULL REFERENCES delivery.plugins (id) ON DELETE CASCADE,
    status text NOT NULL,
    enabled_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, plugin_id),
    CONSTRAINT user_plugins_status_check CHECK (status IN ('enabled', 'disabled'))
);
CREATE INDEX user_plugins_plugin_idx ON delivery.user_plugins (plugin_id);

-- The dashboard's figures as last computed in each month, per user (month-over-month change).
CREATE TABLE delivery.dashboard_snapshots (
    user_id uuid NOT NULL REFERENCES identity.users (id) ON DELETE CASCADE,
    month text NOT NULL,
    total_workflows bigint NOT NULL,
    published_workflows bigint NOT NULL,
    total_runs bigint NOT NULL,
    success_rate double precision NOT NULL,
    computed_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, month)
);
