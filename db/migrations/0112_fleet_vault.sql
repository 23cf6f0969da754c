-- The fleet's secrets vault (seed 004 "Secrets Vault"), one half of the shared /api/v1/secrets resource (DESIGN §1.2).
-- Values are envelope-encrypted (AES-256-GCM, a data key per value sealed by the master key, bound to the row id);
-- no other column ever holds a value.

CREATE TABLE fleet.vault_secrets (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    description text,
    type text NOT NULL DEFAULT 'ENV_VAR',
    instance_id uuid REFERENCES fleet.instances (id) ON DELETE CASCADE,
    encrypted_value bytea NOT NULL,
    scope text[] NOT NULL DEFAULT '{}',
    version bigint NOT NULL DEFAULT 1,
    expires_at timestamptz,
    created_by uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_rotated_at timestamptz,
    CONSTRAINT vault_secrets_type_check CHECK (type IN ('ENV_VAR', 'FILE', 'CERTIFICATE', 'API_KEY'))
);
CREATE UNIQUE INDEX vault_secrets_name_key ON fleet.vault_secrets (name, instance_id) NULLS NOT DISTINCT;
