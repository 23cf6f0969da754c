-- Fleet costs (seed 004, reference sindri.md §9.4): provider price catalogs (loaded from the data files in
-- src/Features/Fleet/Providers/pricing or a configured provider API), daily cost entries per instance written by the
-- cost analysis job, budgets with their alert rule, and right-sizing recommendations.

CREATE TABLE fleet.provider_catalogs (
    provider text PRIMARY KEY,
    document jsonb NOT NULL,
    source text NOT NULL,
    fetched_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT provider_catalogs_source_check CHECK (source IN ('file', 'api'))
);

-- One estimated entry per instance and UTC day (the job upserts it); the alert evaluator's COST rules read
-- instance_id, period_start and total_usd.
CREATE TABLE fleet.cost_entries (
    id uuid PRIMARY KEY,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    provider text NOT NULL,
    period_start timestamptz NOT NULL,
    period_end timestamptz NOT NULL,
    compute_usd numeric(14, 6) NOT NULL DEFAULT 0,
    storage_usd numeric(14, 6) NOT NULL DEFAULT 0,
    network_usd numeric(14, 6) NOT NULL DEFAULT 0,
    llm_usd numeric(14, 6) NOT NULL DEFAULT 0,
    total_usd numeric(14, 6) NOT NULL DEFAULT 0,
    currency text NOT NULL DEFAULT 'USD',
    source text NOT NULL DEFAULT 'estimated',
    metadata jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cost_entries_source_check CHECK (source IN ('estimated', 'actual', 'reconciled')),
    CONSTRAINT cost_entries_period_check CHECK (period_end > period_start)
);
CREATE UNIQUE INDEX cost_entries_instance_period_key ON fleet.cost_entries (instance_id, period_start);
CREATE INDEX cost_entries_period_idx ON fleet.cost_entries (period_start);
CREATE INDEX cost_entries_provider_idx ON fleet.cost_entries (provider, period_start);

CREATE TABLE fleet.budgets (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    amount_usd numeric(14, 2) NOT NULL,
    period text NOT NULL,
    instance_id uuid REFERENCES fleet.instances (id) ON DELETE CASCADE,
    provider text,
    alert_threshold numeric(5, 4) NOT NULL DEFAULT 0.8,
    alert_sent boolean NOT NULL DEFAULT false,
    -- The COST alert rule the budget's alerts are raised under (created with the budget).
    alert_rule_id uuid REFERENCES fleet.alert_rules (id) ON DELETE SET NULL,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT budgets_period_check CHECK (period IN ('DAILY', 'WEEKLY', 'MONTHLY')),
    CONSTRAINT budgets_amount_check CHECK (amount_usd > 0),
    CONSTRAINT budgets_threshold_check CHECK (alert_threshold > 0 AND alert_threshold <= 1)
);
CREATE INDEX budgets_created_idx ON fleet.budgets (created_at DESC, id DESC);
CREATE INDEX budgets_instance_idx ON fleet.budgets (instance_id) WHERE instance_id IS NOT NULL;
CREATE INDEX budgets_rule_idx ON fleet.budgets (alert_rule_id) WHERE alert_rule_id IS NOT NULL;

CREATE TABLE fleet.rightsizing_recommendations (
    id uuid PRIMARY KEY,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    current_tier text NOT NULL,
    suggested_tier text NOT NULL,
    current_usd_mo numeric(14, 2) NOT NULL,
    suggested_usd_mo numeric(14, 2) NOT NULL,
    savings_usd_mo numeric(14, 2) NOT NULL,
    avg_cpu_percent double precision NOT NULL,
    avg_mem_percent double precision NOT NULL,
    sample_count bigint NOT NULL,
    confidence double precision NOT NULL,
    generated_at timestamptz NOT NULL DEFAULT now(),
    dismissed boolean NOT NULL DEFAULT false,
    dismissed_by uuid,
    dismissed_at timestamptz
);
CREATE UNIQUE INDEX rightsizing_recommendations_instance_key ON fleet.rightsizing_recommendations (instance_id);
