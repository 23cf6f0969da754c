-- Fleet alerting: rules (five types, conditions as JSON), notification channels (configuration sealed with the
-- envelope cipher, a masked copy for display), the alerts rules raise, and every delivery attempt.

CREATE TABLE fleet.alert_rules (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    description text,
    type text NOT NULL,
    severity text NOT NULL DEFAULT 'MEDIUM',
    enabled boolean NOT NULL DEFAULT true,
    instance_id uuid REFERENCES fleet.instances (id) ON DELETE CASCADE,
    conditions jsonb NOT NULL,
    cooldown_sec bigint NOT NULL DEFAULT 300,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT alert_rules_type_check CHECK (type IN ('THRESHOLD', 'ANOMALY', 'LIFECYCLE', 'SECURITY', 'COST')),
    CONSTRAINT alert_rules_severity_check CHECK (severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO')),
    CONSTRAINT alert_rules_cooldown_check CHECK (cooldown_sec BETWEEN 0 AND 86400)
);
CREATE INDEX alert_rules_created_idx ON fleet.alert_rules (created_at DESC, id DESC);
CREATE INDEX alert_rules_instance_idx ON fleet.alert_rules (instance_id) WHERE instance_id IS NOT NULL;

CREATE TABLE fleet.notification_channels (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    type text NOT NULL,
    config_masked jsonb NOT NULL,
    config_sealed bytea NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notification_channels_type_check CHECK (type IN ('WEBHOOK', 'SLACK', 'EMAIL', 'IN_APP'))
);

CREATE TABLE fleet.alert_rule_channels (
    rule_id uuid NOT NULL REFERENCES fleet.alert_rules (id) ON DELETE CASCADE,
    channel_id uuid NOT NULL REFERENCES fleet.notification_channels (id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, channel_id)
);
CREATE INDEX alert_rule_channels_channel_idx ON fleet.alert_rule_channels (channel_id);

CREATE TABLE fleet.alerts (
    id uuid PRIMARY KEY,
    rule_id uuid NOT NULL REFERENCES fleet.alert_rules (id) ON DELETE CASCADE,
    instance_id uuid REFERENCES fleet.instances (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'ACTIVE',
    severity text NOT NULL,
    title text NOT NULL,
    message text NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    dedupe_key text NOT NULL,
    fired_at timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    acknowledged_by text,
    resolved_at timestamptz,
    resolved_by text,
    CONSTRAINT alerts_status_check CHECK (status IN ('ACTIVE', 'ACKNOWLEDGED', 'RESOLVED', 'SILENCED')),
    CONSTRAINT alerts_severity_check CHECK (severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFO'))
);
-- One open alert per rule and instance, whichever replica evaluates.
CREATE UNIQUE INDEX alerts_open_dedupe_key ON fleet.alerts (dedupe_key) WHERE status IN ('ACTIVE', 'ACKNOWLEDGED');
CREATE INDEX alerts_fired_idx ON fleet.alerts (fired_at DESC, id DESC);
CREATE INDEX alerts_rule_idx ON fleet.alerts (rule_id, dedupe_key, fired_at DESC);
CREATE INDEX alerts_instance_idx ON fleet.alerts (instance_id, fired_at DESC);

-- One row per delivery attempt (retries included) of an alert to a channel.
CREATE TABLE fleet.alert_notifications (
    id uuid PRIMARY KEY,
    alert_id uuid NOT NULL REFERENCES fleet.alerts (id) ON DELETE CASCADE,
    channel_id uuid REFERENCES fleet.notification_channels (id) ON DELETE SET NULL,
    channel_name text NOT NULL,
    channel_type text NOT NULL,
    attempt bigint NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    success boolean NOT NULL,
    status_code bigint,
    error text,
    duration_ms bigint NOT NULL DEFAULT 0,
    payload jsonb
);
CREATE INDEX alert_notifications_alert_idx ON fleet.alert_notifications (alert_id, sent_at DESC);
CREATE INDEX alert_notifications_channel_idx ON fleet.alert_notifications (channel_id);
