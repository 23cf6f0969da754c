-- Fleet extension registry (seed 004 "Extensions"): registered extensions with their dependency names, usage records
-- (installs and removals per instance) and update policies set globally, per team or per instance.

CREATE TABLE fleet.extensions (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    display_name text NOT NULL,
    description text NOT NULL,
    category text NOT NULL,
    version text NOT NULL,
    author text,
    license text,
    homepage_url text,
    icon_url text,
    tags text[] NOT NULL DEFAULT '{}',
    dependencies text[] NOT NULL DEFAULT '{}',
    scope text NOT NULL DEFAULT 'PUBLIC',
    is_official boolean NOT NULL DEFAULT false,
    is_deprecated boolean NOT NULL DEFAULT false,
    download_count bigint NOT NULL DEFAULT 0,
    published_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT extensions_scope_check CHECK (scope IN ('PUBLIC', 'PRIVATE', 'INTERNAL'))
);
CREATE UNIQUE INDEX extensions_name_key ON fleet.extensions (name);
CREATE INDEX extensions_category_idx ON fleet.extensions (category);

CREATE TABLE fleet.extension_usages (
    id uuid PRIMARY KEY,
    extension_id uuid NOT NULL REFERENCES fleet.extensions (id) ON DELETE CASCADE,
    instance_id uuid NOT NULL REFERENCES fleet.instances (id) ON DELETE CASCADE,
    version text NOT NULL,
    installed_at timestamptz NOT NULL DEFAULT now(),
    removed_at timestamptz,
    install_duration_ms bigint,
    failed boolean NOT NULL DEFAULT false,
    error text
);
CREATE INDEX extension_usages_extension_idx ON fleet.extension_usages (extension_id, installed_at DESC);
CREATE INDEX extension_usages_active_idx ON fleet.extension_usages (instance_id, extension_id) WHERE removed_at IS NULL;

-- One policy per extension and scope: global (no team, no instance), a team's, or an instance's. NULLS NOT DISTINCT
-- makes re-setting a global policy an update, not a second row (the upstream's duplicate-global bug).
CREATE TABLE fleet.extension_policies (
    id uuid PRIMARY KEY,
    extension_id uuid NOT NULL REFERENCES fleet.extensions (id) ON DELETE CASCADE,
    team_id uuid,
    instance_id uuid REFERENCES fleet.instances (id) ON DELETE CASCADE,
    policy text NOT NULL DEFAULT 'AUTO_UPDATE',
    pinned_version text,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT extension_policies_policy_check CHECK (policy IN ('AUTO_UPDATE', 'PIN', 'FREEZE')),
    CONSTRAINT extension_policies_one_scope_check CHECK (team_id IS NULL OR instance_id IS NULL)
);
CREATE UNIQUE INDEX extension_policies_scope_key ON fleet.extension_policies (extension_id, team_id, instance_id) NULLS NOT DISTINCT;
CREATE INDEX extension_policies_instance_idx ON fleet.extension_policies (instance_id) WHERE instance_id IS NOT NULL;
