-- Fleet core (seed 004): instances, their event timeline, heartbeats, backups, the region coordinate registry and the
-- daily time partitions that heartbeats, metrics and logs are stored in (retention drops whole partitions).

-- Daily range partitions named <parent>_pYYYYMMDD, in UTC days. Created ahead by start-up and an hourly job; several
-- replicas may call this at once, so it serialises on an advisory lock.
CREATE FUNCTION fleet.ensure_daily_partitions(parent text, first_day date, last_day date) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    day date := first_day;
    partition_name text;
    created bigint := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('fleet.partitions'));
    WHILE day <= last_day LOOP
        partition_name := parent || '_p' || to_char(day, 'YYYYMMDD');
        IF to_regclass(format('fleet.%I', partition_name)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE fleet.%I PARTITION OF fleet.%I FOR VALUES FROM (%L) TO (%L)',
                partition_name, parent,
                (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
            created := created + 1;
        END IF;
        day := day + 1;
    END LOOP;
    RETURN created;
END $$;

-- Drops the daily partitions of <parent> whose day is before keep_from (retention).
CREATE FUNCTION fleet.drop_daily_partitions(parent text, keep_from date) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    child record;
    dropped bigint := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('fleet.partitions'));
    FOR child IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = format('fleet.%I', parent)::regclass
          AND c.relname ~ '_p[0-9]{8}$'
    LOOP
        IF to_date(right(child.relname, 8), 'YYYYMMDD') < keep_from THEN
            EXECUTE format('DROP TABLE fleet.%I', child.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    RETURN dropped;
END $$;

CREATE TABLE fleet.instances (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    provider text NOT NULL,
    region text,
    distro text,
    extensions text[] NOT NULL DEFAULT '{}',
    -- Per-extension state reported by the agent: [{name, status, version, updatedAt}].
    extension_states jsonb NOT NULL DEFAULT '[]',
    config_hash text,
    ssh_endpoint text,
    docker_host text,
    status text NOT NULL DEFAULT 'UNKNOWN',
    team_id uuid,
    tags jsonb NOT NULL DEFAULT '{}',
    geo_lat double precision,
    geo_lon double precision,
    geo_label text,
    geo_source text,
    agent_version text,
    os text,
    arch text,
    last_heartbeat_at timestamptz,
    -- The agent socket currently held for this instance (on whichever replica), and when it connected.
    agent_connection_id uuid,
    agent_replica text,
    agent_connected_at timestamptz,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT instances_status_check CHECK (status IN
        ('RUNNING', 'STOPPED', 'DEPLOYING', 'DESTROYING', 'DESTROYED', 'SUSPENDED', 'ERROR', 'UNKNOWN')),
    CONSTRAINT instances_name_check CHECK (length(name) BETWEEN 1 AND 128)
);
-- One live instance per name; destroyed ones keep theirs as history (the name can be reused).
CREATE UNIQUE INDEX instances_live_name_key ON fleet.instances (name) WHERE status <> 'DESTROYED';
CREATE INDEX instances_created_idx ON fleet.instances (created_at DESC, id DESC);
CREATE INDEX instances_status_idx ON fleet.instances (status);
CREATE INDEX instances_team_idx ON fleet.instances (team_id) WHERE team_id IS NOT NULL;
CREATE INDEX instances_silence_idx ON fleet.instances (last_heartbeat_at) WHERE status = 'RUNNING';

-- The instance timeline (seed 004 EventType: DEPLOY, SUSPEND, RESUME, DESTROY, BACKUP, HEARTBEAT_LOST, ...). Kept
-- general: other fleet features add their own event types.
CREATE TABLE fleet.instance_events (
    id uuid PRIMARY KEY,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    event_type text NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_id uuid,
    metadata jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX instance_events_instance_idx ON fleet.instance_events (instance_id, occurred_at DESC, id DESC);
CREATE INDEX instance_events_type_idx ON fleet.instance_events (event_type, occurred_at DESC);

CREATE TABLE fleet.instance_backups (
    id uuid PRIMARY KEY,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    label text NOT NULL,
    compression text NOT NULL,
    status text NOT NULL DEFAULT 'pending',
    size_bytes bigint,
    location text,
    error text,
    requested_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    CONSTRAINT instance_backups_status_check CHECK (status IN ('pending', 'in_progress', 'completed', 'failed')),
    CONSTRAINT instance_backups_compression_check CHECK (compression IN ('none', 'gzip', 'zstd'))
);
CREATE INDEX instance_backups_instance_idx ON fleet.instance_backups (instance_id, created_at DESC);

-- Liveness samples, one per heartbeat; partitioned by day.
CREATE TABLE fleet.heartbeats (
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    recorded_at timestamptz NOT NULL,
    cpu_percent double precision NOT NULL DEFAULT 0,
    memory_used bigint NOT NULL DEFAULT 0,
    memory_total bigint NOT NULL DEFAULT 0,
    disk_used bigint NOT NULL DEFAULT 0,
    disk_total bigint NOT NULL DEFAULT 0,
    uptime_seconds bigint NOT NULL DEFAULT 0,
    processes jsonb
) PARTITION BY RANGE (recorded_at);
CREATE INDEX heartbeats_instance_idx ON fleet.heartbeats (instance_id, recorded_at DESC);

-- Coordinates of providers' regions, for geo pins (data, not code).
CREATE TABLE fleet.region_coordinates (
    provider text NOT NULL,
    region text NOT NULL,
    lat double precision NOT NULL,
    lon double precision NOT NULL,
    label text NOT NULL,
    PRIMARY KEY (provider, region)
);

INSERT INTO fleet.region_coordinates (provider, region, lat, lon, label) VALUES
    ('fly', 'ams', 52.37, 4.90, 'Amsterdam, Netherlands'),
    ('fly', 'arn', 59.33, 18.07, 'Stockholm, Sweden'),
    ('fly', 'atl', 33.75, -84.39, 'Atlanta, Georgia (US)'),
    ('fly', 'bog', 4.71, -74.07, 'Bogotá, Colombia'),
    ('fly', 'bom', 19.08, 72.88, 'Mumbai, India'),
    ('fly', 'bos', 42.36, -71.06, 'Boston, Massachusetts (US)'),
    ('fly', 'cdg', 48.86, 2.35, 'Paris, France'),
    ('fly', 'den', 39.74, -104.99, 'Denver, Colorado (US)'),
    ('fly', 'dfw', 32.78, -96.80, 'Dallas, Texas (US)'),
    ('fly', 'ewr', 40.79, -74.06, 'Secaucus, NJ (US)'),
    ('fly', 'eze', -34.60, -58.38, 'Buenos Aires, Argentina'),
    ('fly', 'fra', 50.11, 8.68, 'Frankfurt, Germany'),
    ('fly', 'gdl', 20.66, -103.35, 'Guadalajara, Mexico'),
    ('fly', 'gig', -22.91, -43.17, 'Rio de Janeiro, Brazil'),
    ('fly', 'gru', -23.55, -46.63, 'São Paulo, Brazil'),
    ('fly', 'hkg', 22.32, 114.17, 'Hong Kong'),
    ('fly', 'iad', 39.04, -77.49, 'Ashburn, Virginia (US)'),
    ('fly', 'jnb', -26.20, 28.05, 'Johannesburg, South Africa'),
    ('fly', 'lax', 34.05, -118.24, 'Los Angeles, California (US)'),
    ('fly', 'lhr', 51.51, -0.13, 'London, United Kingdom'),
    ('fly', 'mad', 40.42, -3.70, 'Madrid, Spain'),
    ('fly', 'mia', 25.76, -80.19, 'Miami, Florida (US)'),
    ('fly', 'nrt', 35.68, 139.69, 'Tokyo, Japan'),
    ('fly', 'ord', 41.88, -87.63, 'Chicago, Illinois (US)'),
    ('fly', 'otp', 44.43, 26.10, 'Bucharest, Romania'),
    ('fly', 'phx', 33.45, -112.07, 'Phoenix, Arizona (US)'),
    ('fly', 'qro', 20.59, -100.39, 'Querétaro, Mexico'),
    ('fly', 'scl', -33.45, -70.67, 'Santiago, Chile'),
    ('fly', 'sea', 47.61, -122.33, 'Seattle, Washington (US)'),
    ('fly', 'sin', 1.35, 103.82, 'Singapore'),
    ('fly', 'sjc', 37.34, -121.89, 'San Jose, California (US)'),
    ('fly', 'syd', -33.87, 151.21, 'Sydney, Australia'),
    ('fly', 'waw', 52.23, 21.01, 'Warsaw, Poland'),
    ('fly', 'yul', 45.50, -73.57, 'Montreal, Canada'),
    ('fly', 'yyz', 43.65, -79.38, 'Toronto, Canada'),
    ('aws', 'us-east-1', 39.04, -77.49, 'US East (N. Virginia)'),
    ('aws', 'us-east-2', 39.96, -83.00, 'US East (Ohio)'),
    ('aws', 'us-west-1', 37.77, -122.42, 'US West (N. California)'),
    ('aws', 'us-west-2', 45.84, -119.70, 'US West (Oregon)'),
    ('aws', 'ca-central-1', 45.50, -73.57, 'Canada (Central)'),
    ('aws', 'eu-west-1', 53.35, -6.26, 'Europe (Ireland)'),
    ('aws', 'eu-west-2', 51.51, -0.13, 'Europe (London)'),
    ('aws', 'eu-central-1', 50.11, 8.68, 'Europe (Frankfurt)'),
    ('aws', 'ap-south-1', 19.08, 72.88, 'Asia Pacific (Mumbai)'),
    ('aws', 'ap-southeast-1', 1.35, 103.82, 'Asia Pacific (Singapore)'),
    ('aws', 'ap-southeast-2', -33.87, 151.21, 'Asia Pacific (Sydney)'),
    ('aws', 'ap-northeast-1', 35.68, 139.69, 'Asia Pacific (Tokyo)'),
    ('aws', 'sa-east-1', -23.55, -46.63, 'South America (São Paulo)'),
    ('gcp', 'us-central1', 41.26, -95.86, 'Council Bluffs, Iowa (US)'),
    ('gcp', 'us-east1', 33.20, -80.01, 'Moncks Corner, South Carolina (US)'),
    ('gcp', 'us-east4', 39.04, -77.49, 'Ashburn, Virginia (US)'),
    ('gcp', 'us-west1', 45.59, -121.18, 'The Dalles, Oregon (US)'),
    ('gcp', 'europe-west1', 50.45, 3.82, 'St. Ghislain, Belgium'),
    ('gcp', 'europe-west2', 51.51, -0.13, 'London, United Kingdom'),
    ('gcp', 'europe-west3', 50.11, 8.68, 'Frankfurt, Germany'),
    ('gcp', 'europe-west4', 53.44, 6.84, 'Eemshaven, Netherlands'),
    ('gcp', 'asia-east1', 24.05, 120.52, 'Changhua County, Taiwan'),
    ('gcp', 'asia-northeast1', 35.68, 139.69, 'Tokyo, Japan'),
    ('gcp', 'asia-southeast1', 1.35, 103.82, 'Jurong West, Singapore'),
    ('gcp', 'australia-southeast1', -33.87, 151.21, 'Sydney, Australia'),
    ('azure', 'eastus', 37.37, -79.82, 'East US (Virginia)'),
    ('azure', 'eastus2', 36.67, -78.39, 'East US 2 (Virginia)'),
    ('azure', 'centralus', 41.59, -93.60, 'Central US (Iowa)'),
    ('azure', 'westus', 37.78, -122.42, 'West US (California)'),
    ('azure', 'westus2', 47.23, -119.85, 'West US 2 (Washington)'),
    ('azure', 'northeurope', 53.35, -6.26, 'North Europe (Ireland)'),
    ('azure', 'westeurope', 52.37, 4.90, 'West Europe (Netherlands)'),
    ('azure', 'uksouth', 51.51, -0.13, 'UK South (London)'),
    ('azure', 'southeastasia', 1.35, 103.82, 'Southeast Asia (Singapore)'),
    ('azure', 'japaneast', 35.68, 139.69, 'Japan East (Tokyo)'),
    ('azure', 'australiaeast', -33.86, 151.21, 'Australia East (New South Wales)'),
    ('digitalocean', 'nyc1', 40.71, -74.01, 'New York City, United States'),
    ('digitalocean', 'nyc3', 40.71, -74.01, 'New York City, United States'),
    ('digitalocean', 'sfo3', 37.77, -122.42, 'San Francisco, United States'),
    ('digitalocean', 'tor1', 43.65, -79.38, 'Toronto, Canada'),
    ('digitalocean', 'ams3', 52.37, 4.90, 'Amsterdam, Netherlands'),
    ('digitalocean', 'lon1', 51.51, -0.13, 'London, United Kingdom'),
    ('digitalocean', 'fra1', 50.11, 8.68, 'Frankfurt, Germany'),
    ('digitalocean', 'blr1', 12.97, 77.59, 'Bangalore, India'),
    ('digitalocean', 'sgp1', 1.35, 103.82, 'Singapore'),
    ('digitalocean', 'syd1', -33.87, 151.21, 'Sydney, Australia'),
    ('e2b', 'us-east-1', 39.04, -77.49, 'US East'),
    ('e2b', 'eu-west-1', 53.35, -6.26, 'EU West'),
    ('runpod', 'us-east-1', 39.04, -77.49, 'US East'),
    ('runpod', 'us-west-2', 45.84, -119.70, 'US West'),
    ('runpod', 'eu-central-1', 50.11, 8.68, 'EU Central');
