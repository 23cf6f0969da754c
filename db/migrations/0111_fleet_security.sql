-- Fleet security (seed 004 "Security"): software bills of materials reported by instances, a locally stored
-- vulnerability feed (OSV records, imported from files), vulnerabilities detected by matching the two, secret-rotation
-- records and the SSH key audit. The alert evaluator's SECURITY rules read fleet.vulnerabilities (status 'OPEN') and
-- fleet.secret_rotations (is_overdue, next_rotation).

CREATE TABLE fleet.bom_entries (
    id uuid PRIMARY KEY,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    package_name text NOT NULL,
    package_version text NOT NULL,
    ecosystem text NOT NULL,
    license text,
    scanned_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX bom_entries_package_key ON fleet.bom_entries (instance_id, package_name, package_version, ecosystem);
CREATE INDEX bom_entries_ecosystem_idx ON fleet.bom_entries (ecosystem);

-- One OSV record per advisory id; affected holds the record's "affected" array as imported.
CREATE TABLE fleet.advisories (
    id text PRIMARY KEY,
    aliases text[] NOT NULL DEFAULT '{}',
    summary text NOT NULL DEFAULT '',
    details text NOT NULL DEFAULT '',
    severity text NOT NULL DEFAULT 'UNKNOWN',
    cvss_score double precision,
    reference_urls text[] NOT NULL DEFAULT '{}',
    affected jsonb NOT NULL DEFAULT '[]',
    modified_at timestamptz,
    withdrawn_at timestamptz,
    imported_at timestamptz NOT NULL DEFAULT now()
);

-- The packages each advisory names (lower-cased), to find candidate advisories for a BOM entry.
CREATE TABLE fleet.advisory_packages (
    advisory_id text NOT NULL REFERENCES fleet.advisories (id) ON DELETE CASCADE,
    ecosystem text NOT NULL,
    package_name text NOT NULL,
    PRIMARY KEY (ecosystem, package_name, advisory_id)
);
CREATE INDEX advisory_packages_advisory_idx ON fleet.advisory_packages (advisory_id);

CREATE TABLE fleet.vulnerabilities (
    id uuid PRIMARY KEY,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    cve_id text NOT NULL,
    osv_id text NOT NULL,
    package_name text NOT NULL,
    package_version text NOT NULL,
    ecosystem text NOT NULL,
    severity text NOT NULL DEFAULT 'UNKNOWN',
    cvss_score double precision,
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    fix_version text,
    reference_urls text[] NOT NULL DEFAULT '{}',
    status text NOT NULL DEFAULT 'OPEN',
    detected_at timestamptz NOT NULL DEFAULT now(),
    acknowledged_at timestamptz,
    acknowledged_by uuid,
    fixed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT vulnerabilities_severity_check CHECK (severity IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN')),
    CONSTRAINT vulnerabilities_status_check CHECK (status IN ('OPEN', 'ACKNOWLEDGED', 'FIXED', 'FALSE_POSITIVE'))
);
CREATE UNIQUE INDEX vulnerabilities_finding_key ON fleet.vulnerabilities (instance_id, osv_id, package_name, package_version, ecosystem);
CREATE INDEX vulnerabilities_open_idx ON fleet.vulnerabilities (instance_id, severity) WHERE status = 'OPEN';
CREATE INDEX vulnerabilities_detected_idx ON fleet.vulnerabilities (detected_at DESC);

CREATE TABLE fleet.secret_rotations (
    id uuid PRIMARY KEY,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    secret_name text NOT NULL,
    secret_type text NOT NULL,
    last_rotated timestamptz,
    next_rotation timestamptz,
    rotation_days bigint NOT NULL DEFAULT 90,
    is_overdue boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX secret_rotations_name_key ON fleet.secret_rotations (instance_id, secret_name);

CREATE TABLE fleet.ssh_keys (
    id uuid PRIMARY KEY,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    fingerprint text NOT NULL,
    comment text,
    key_type text NOT NULL,
    key_bits bigint,
    status text NOT NULL DEFAULT 'ACTIVE',
    last_used_at timestamptz,
    expires_at timestamptz,
    revoked_at timestamptz,
    revoked_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ssh_keys_status_check CHECK (status IN ('ACTIVE', 'REVOKED', 'EXPIRED'))
);
CREATE UNIQUE INDEX ssh_keys_fingerprint_key ON fleet.ssh_keys (instance_id, fingerprint);
