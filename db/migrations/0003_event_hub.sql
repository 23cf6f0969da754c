-- Hub messages too large for a NOTIFY payload travel by reference through this table (kept one hour).
CREATE TABLE platform.hub_messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hub_messages_created_idx ON platform.hub_messages (created_at);
