-- Fleet configuration drift (seed 004, reference sindri.md §9.5): snapshots of an instance's declared and reported
-- configuration, one event per differing field, and remediations run as commands on the instance.

CREATE TABLE fleet.config_snapshots (
    id uuid PRIMARY KEY,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    taken_at timestamptz NOT NULL DEFAULT now(),
    declared jsonb NOT NULL,
    actual jsonb NOT NULL,
    config_hash text NOT NULL,
    drift_status text NOT NULL DEFAULT 'UNKNOWN',
    error text,
    triggered_by text NOT NULL,
    CONSTRAINT config_snapshots_status_check CHECK (drift_status IN ('CLEAN', 'DRIFTED', 'UNKNOWN', 'ERROR'))
);
CREATE INDEX config_snapshots_taken_idx ON fleet.config_snapshots (taken_at DESC, id DESC);
CREATE INDEX config_snapshots_instance_idx ON fleet.config_snapshots (instance_id, taken_at DESC, id DESC);

CREATE TABLE fleet.drift_events (
    id uuid PRIMARY KEY,
    snapshot_id uuid NOT NULL REFERENCES fleet.config_snapshots (id) ON DELETE CASCADE,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    detected_at timestamptz NOT NULL DEFAULT now(),
    field_path text NOT NULL,
    declared_val text,
    actual_val text,
    severity text NOT NULL DEFAULT 'MEDIUM',
    description text NOT NULL,
    remediation_action text NOT NULL,
    remediation_command text,
    resolved_at timestamptz,
    resolved_by text,
    CONSTRAINT drift_events_severity_check CHECK (severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW'))
);
CREATE INDEX drift_events_detected_idx ON fleet.drift_events (detected_at DESC, id DESC);
CREATE INDEX drift_events_snapshot_idx ON fleet.drift_events (snapshot_id);
CREATE INDEX drift_events_unresolved_idx ON fleet.drift_events (instance_id, detected_at DESC) WHERE resolved_at IS NULL;

CREATE TABLE fleet.drift_remediations (
    id uuid PRIMARY KEY,
    drift_event_id uuid NOT NULL REFERENCES fleet.drift_events (id) ON DELETE CASCADE,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    action text NOT NULL,
    command text,
    status text NOT NULL DEFAULT 'PENDING',
    command_execution_id uuid REFERENCES fleet.command_executions (id) ON DELETE SET NULL,
    triggered_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    output text,
    error text,
    CONSTRAINT drift_remediations_status_check CHECK (status IN ('PENDING', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'DISMISSED'))
);
CREATE UNIQUE INDEX drift_remediations_event_key ON fleet.drift_remediations (drift_event_id);
CREATE INDEX drift_remediations_instance_idx ON fleet.drift_remediations (instance_id);
CREATE INDEX drift_remediations_execution_idx ON fleet.drift_remediations (command_execution_id) WHERE command_execution_id IS NOT NULL;
