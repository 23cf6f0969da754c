-- Agent credentials are cached per replica like users' (AgentCredentials, the credential cache's lifetime). This trigger
-- evicts an agent on every replica as soon as a change deciding its sign-in commits (revocation or any status change,
-- a new secret, scope, name or key, deletion), whoever made it. Heartbeats stamping last_seen_at raise nothing.

-- Raises a hub event from SQL: the message EventHub reads from its channel, delivered to every replica on commit.
CREATE FUNCTION platform.raise_hub_event(topic text, data json) RETURNS void
    LANGUAGE sql
    AS $$
    SELECT pg_notify('capstan_events', json_build_object(
        'topic', topic, 'data', data, 'raisedAt', now(), 'origin', 'database', 'ref', NULL)::text)
$$;

CREATE FUNCTION access.notify_agent_credentials_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM platform.raise_hub_event('identity.credentials', json_build_object('agentId', OLD.id));
    RETURN NULL;
END
$$;

CREATE TRIGGER agents_credentials_changed
    AFTER UPDATE OF status, secret_hash, scope, name, public_key, id ON access.agents
    FOR EACH ROW
    WHEN (new.status IS DISTINCT FROM old.status OR new.secret_hash IS DISTINCT FROM old.secret_hash
          OR new.scope IS DISTINCT FROM old.scope OR new.name IS DISTINCT FROM old.name
          OR new.public_key IS DISTINCT FROM old.public_key OR new.id <> old.id)
    EXECUTE FUNCTION access.notify_agent_credentials_changed();
CREATE TRIGGER agents_credentials_deleted
    AFTER DELETE ON access.agents
    FOR EACH ROW EXECUTE FUNCTION access.notify_agent_credentials_changed();
