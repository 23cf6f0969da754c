-- Reconciliation history (reference gyre.md §12), recorded by the background watcher for every registered cluster
-- (each revision and Ready transition, with spec snapshots for rollback) and by manual actions (reconcile, rollback).
CREATE TABLE gitops.reconciliation_history (
    id uuid PRIMARY KEY,
    cluster_id uuid NOT NULL REFERENCES clusters.clusters (id) ON DELETE CASCADE,
    resource_type text NOT NULL,
    namespace text NOT NULL,
    name text NOT NULL,
    revision text,
    previous_revision text,
    status text NOT NULL,
    ready_status text,
    ready_reason text,
    ready_message text,
    reconcile_started_at timestamptz,
    reconcile_completed_at timestamptz NOT NULL,
    duration_ms bigint,
    spec_snapshot jsonb,
    metadata_snapshot jsonb,
    trigger_type text NOT NULL DEFAULT 'automatic',
    triggered_by_user uuid REFERENCES identity.users (id) ON DELETE SET NULL,
    error_message text,
    stalled_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reconciliation_history_status_check CHECK (status IN ('success', 'failure', 'unknown')),
    CONSTRAINT reconciliation_history_trigger_check CHECK (trigger_type IN ('automatic', 'manual', 'webhook', 'rollback'))
);
CREATE INDEX reconciliation_history_resource_idx
    ON gitops.reconciliation_history (cluster_id, resource_type, namespace, name, reconcile_completed_at DESC, id DESC);
CREATE INDEX reconciliation_history_completed_idx ON gitops.reconciliation_history (reconcile_completed_at);
CREATE INDEX reconciliation_history_user_idx ON gitops.reconciliation_history (triggered_by_user);

-- What the watcher last saw of each Flux object, so a change is recorded once across replicas and restarts.
CREATE TABLE gitops.resource_states (
    cluster_id uuid NOT NULL REFERENCES clusters.clusters (id) ON DELETE CASCADE,
    resource_type text NOT NULL,
    namespace text NOT NULL,
    name text NOT NULL,
    uid text,
    resource_version text,
    revision text,
    ready_status text,
    ready_reason text,
    message_preview text,
    suspended boolean NOT NULL DEFAULT false,
    observed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cluster_id, resource_type, namespace, name)
);
