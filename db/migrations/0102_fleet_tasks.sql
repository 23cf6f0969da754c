-- Fleet scheduled tasks (seed 004, reference sindri.md §8.12): cron schedules run by the scheduler job, each run
-- dispatched as a command to the task's instance (or every running instance); executions keep the command's outcome.

CREATE TABLE fleet.scheduled_tasks (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    description text,
    cron text NOT NULL,
    timezone text NOT NULL DEFAULT 'UTC',
    command text NOT NULL,
    instance_id uuid REFERENCES fleet.instances (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'ACTIVE',
    template text,
    timeout_sec bigint NOT NULL DEFAULT 300,
    max_retries bigint NOT NULL DEFAULT 0,
    notify_on_failure boolean NOT NULL DEFAULT false,
    notify_on_success boolean NOT NULL DEFAULT false,
    notify_emails text[] NOT NULL DEFAULT '{}',
    last_run_at timestamptz,
    next_run_at timestamptz,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT scheduled_tasks_status_check CHECK (status IN ('ACTIVE', 'PAUSED', 'DISABLED')),
    CONSTRAINT scheduled_tasks_timeout_check CHECK (timeout_sec BETWEEN 1 AND 3600),
    CONSTRAINT scheduled_tasks_retries_check CHECK (max_retries BETWEEN 0 AND 5)
);
CREATE INDEX scheduled_tasks_created_idx ON fleet.scheduled_tasks (created_at DESC, id DESC);
CREATE INDEX scheduled_tasks_due_idx ON fleet.scheduled_tasks (next_run_at) WHERE status = 'ACTIVE';
CREATE INDEX scheduled_tasks_instance_idx ON fleet.scheduled_tasks (instance_id) WHERE instance_id IS NOT NULL;

-- One row per run per instance; the outcome comes from the command execution it dispatched. A run that could not be
-- dispatched (agent not connected) is SKIPPED with the reason in stderr.
CREATE TABLE fleet.task_executions (
    id uuid PRIMARY KEY,
    task_id uuid NOT NULL REFERENCES fleet.scheduled_tasks (id) ON DELETE CASCADE,
    instance_id uuid REFERENCES fleet.instances (id) ON DELETE SET NULL,
    command_execution_id uuid REFERENCES fleet.command_executions (id) ON DELETE SET NULL,
    status text NOT NULL DEFAULT 'PENDING',
    attempt bigint NOT NULL DEFAULT 1,
    stderr text,
    scheduled_for timestamptz,
    started_at timestamptz NOT NULL DEFAULT now(),
    triggered_by text NOT NULL,
    CONSTRAINT task_executions_status_check CHECK (status IN ('PENDING', 'RUNNING', 'SUCCESS', 'FAILED', 'SKIPPED', 'TIMED_OUT')),
    CONSTRAINT task_executions_trigger_check CHECK (triggered_by IN ('scheduler', 'manual', 'retry'))
);
CREATE INDEX task_executions_task_idx ON fleet.task_executions (task_id, started_at DESC, id DESC);
CREATE INDEX task_executions_command_idx ON fleet.task_executions (command_execution_id) WHERE command_execution_id IS NOT NULL;
CREATE INDEX task_executions_instance_idx ON fleet.task_executions (instance_id) WHERE instance_id IS NOT NULL;
