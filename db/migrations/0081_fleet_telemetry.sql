-- Fleet telemetry: metric snapshots and log lines, both partitioned by day (see fleet.ensure_daily_partitions).
-- Log search is full text (tsvector + GIN) with a trigram index for substring matches.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE fleet.metrics (
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    recorded_at timestamptz NOT NULL,
    cpu_percent double precision NOT NULL DEFAULT 0,
    load_avg_1 double precision,
    load_avg_5 double precision,
    load_avg_15 double precision,
    cpu_steal double precision,
    core_count bigint,
    mem_used bigint NOT NULL DEFAULT 0,
    mem_total bigint NOT NULL DEFAULT 0,
    mem_cached bigint,
    swap_used bigint,
    swap_total bigint,
    disk_used bigint NOT NULL DEFAULT 0,
    disk_total bigint NOT NULL DEFAULT 0,
    disk_read_bps double precision,
    disk_write_bps double precision,
    net_bytes_sent bigint,
    net_bytes_recv bigint,
    net_packets_sent bigint,
    net_packets_recv bigint
) PARTITION BY RANGE (recorded_at);
CREATE INDEX metrics_instance_idx ON fleet.metrics (instance_id, recorded_at DESC);
CREATE INDEX metrics_recorded_idx ON fleet.metrics (recorded_at);

CREATE TABLE fleet.logs (
    id uuid NOT NULL,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    level text NOT NULL,
    source text NOT NULL,
    message text NOT NULL,
    metadata jsonb,
    deployment_id uuid,
    logged_at timestamptz NOT NULL,
    search_vector tsvector GENERATED ALWAYS AS (to_tsvector('english', message)) STORED,
    CONSTRAINT logs_level_check CHECK (level IN ('DEBUG', 'INFO', 'WARN', 'ERROR')),
    CONSTRAINT logs_source_check CHECK (source IN ('AGENT', 'EXTENSION', 'BUILD', 'APP', 'SYSTEM'))
) PARTITION BY RANGE (logged_at);
CREATE INDEX logs_time_idx ON fleet.logs (logged_at DESC, id DESC);
CREATE INDEX logs_instance_idx ON fleet.logs (instance_id, logged_at DESC, id DESC);
CREATE INDEX logs_id_idx ON fleet.logs (id);
CREATE INDEX logs_search_idx ON fleet.logs USING gin (search_vector);
CREATE INDEX logs_message_trgm_idx ON fleet.logs USING gin (message gin_trgm_ops);

-- A first window of partitions; the service keeps them ahead of time and drops expired ones.
SELECT fleet.ensure_daily_partitions('heartbeats', current_date - 7, current_date + 3);
SELECT fleet.ensure_daily_partitions('metrics', current_date - 7, current_date + 3);
SELECT fleet.ensure_daily_partitions('logs', current_date - 7, current_date + 3);
