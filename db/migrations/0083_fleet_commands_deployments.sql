-- Fleet commands (dispatched over an instance's agent socket, results captured), deployments from YAML (run by the
-- sindri CLI in the background, claimed with SKIP LOCKED) and deployment templates.

CREATE TABLE fleet.command_executions (
    id uuid PRIMARY KEY,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    user_id uuid,
    batch_id uuid,
    command text NOT NULL,
    args text[] NOT NULL DEFAULT '{}',
    env jsonb NOT NULL DEFAULT '{}',
    working_dir text,
    timeout_ms bigint NOT NULL,
    status text NOT NULL DEFAULT 'PENDING',
    exit_code bigint,
    stdout text,
    stderr text,
    duration_ms bigint,
    script_content text,
    created_at timestamptz NOT NULL DEFAULT now(),
    dispatched_at timestamptz,
    completed_at timestamptz,
    CONSTRAINT command_executions_status_check CHECK (status IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'TIMEOUT'))
);
CREATE INDEX command_executions_created_idx ON fleet.command_executions (created_at DESC, id DESC);
CREATE INDEX command_executions_instance_idx ON fleet.command_executions (instance_id, created_at DESC);
CREATE INDEX command_executions_running_idx ON fleet.command_executions (dispatched_at) WHERE status IN ('PENDING', 'RUNNING');

CREATE TABLE fleet.deployment_templates (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    slug text NOT NULL,
    category text NOT NULL,
    description text NOT NULL DEFAULT '',
    yaml_content text NOT NULL,
    extensions text[] NOT NULL DEFAULT '{}',
    provider_recommendations text[] NOT NULL DEFAULT '{}',
    is_official boolean NOT NULL DEFAULT false,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX deployment_templates_slug_key ON fleet.deployment_templates (slug);
CREATE INDEX deployment_templates_order_idx ON fleet.deployment_templates (is_official DESC, created_at DESC);

CREATE TABLE fleet.deployments (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    instance_id uuid REFERENCES fleet.instances (id) ON DELETE SET NULL,
    template_id uuid REFERENCES fleet.deployment_templates (id) ON DELETE SET NULL,
    config_hash text NOT NULL,
    yaml_content text NOT NULL,
    provider text NOT NULL,
    region text,
    vm_size text NOT NULL,
    memory_gb bigint NOT NULL,
    storage_gb bigint NOT NULL,
    docker_host text,
    -- Deployment secrets, sealed with the envelope cipher; wiped once the run ends.
    secrets_sealed bytea,
    status text NOT NULL DEFAULT 'PENDING',
    progress_percent bigint NOT NULL DEFAULT 0,
    initiated_by uuid,
    started_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    logs text,
    error text,
    CONSTRAINT deployments_status_check CHECK (status IN ('PENDING', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'CANCELLED'))
);
CREATE INDEX deployments_started_idx ON fleet.deployments (started_at DESC);
CREATE INDEX deployments_pending_idx ON fleet.deployments (started_at) WHERE status = 'PENDING';
CREATE INDEX deployments_instance_idx ON fleet.deployments (instance_id, started_at DESC);
CREATE INDEX deployments_template_idx ON fleet.deployments (template_id) WHERE template_id IS NOT NULL;
