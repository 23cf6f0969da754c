-- Credential caches (CredentialCheckCache, one per replica) drop a user's cached sign-ins as soon as a row deciding them
-- changes: these triggers raise an `identity.credentials` event on the event hub's channel, delivered on commit to
-- every replica, whoever made the change (the service, another replica, psql). The cache's short lifetime bounds
-- staleness when a notification is lost. A session sliding forward or an API key's last-use stamp raise nothing.
CREATE FUNCTION identity.notify_credentials_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    changed jsonb := CASE WHEN TG_OP = 'INSERT' THEN to_jsonb(NEW) ELSE to_jsonb(OLD) END;
    subject text := CASE WHEN TG_TABLE_NAME = 'users' THEN changed ->> 'id'
                         WHEN TG_TABLE_NAME = 'roles' THEN '*'
                         ELSE changed ->> 'user_id' END;
BEGIN
    PERFORM pg_notify('capstan_events', json_build_object(
        'topic', 'identity.credentials',
        'data', json_build_object('userId', subject),
        'raisedAt', now(),
        'origin', 'database',
        'ref', NULL)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_credentials_changed
    AFTER UPDATE OF revoked_at, expires_at, user_id ON identity.sessions
    FOR EACH ROW
    WHEN (new.revoked_at IS DISTINCT FROM old.revoked_at OR new.expires_at < old.expires_at OR new.user_id <> old.user_id)
    EXECUTE FUNCTION identity.notify_credentials_changed();
CREATE TRIGGER sessions_credentials_deleted
    AFTER DELETE ON identity.sessions
    FOR EACH ROW EXECUTE FUNCTION identity.notify_credentials_changed();

CREATE TRIGGER api_keys_credentials_changed
    AFTER UPDATE OF revoked_at, expires_at, role, user_id ON identity.api_keys
    FOR EACH ROW
    WHEN (new.revoked_at IS DISTINCT FROM old.revoked_at OR new.expires_at IS DISTINCT FROM old.expires_at
          OR new.role IS DISTINCT FROM old.role OR new.user_id <> old.user_id)
    EXECUTE FUNCTION identity.notify_credentials_changed();
CREATE TRIGGER api_keys_credentials_deleted
    AFTER DELETE ON identity.api_keys
    FOR EACH ROW EXECUTE FUNCTION identity.notify_credentials_changed();

CREATE TRIGGER users_credentials_changed
    AFTER UPDATE OR DELETE ON identity.users
    FOR EACH ROW EXECUTE FUNCTION identity.notify_credentials_changed();

CREATE TRIGGER user_roles_credentials_changed
    AFTER INSERT OR UPDATE OR DELETE ON identity.user_roles
    FOR EACH ROW EXECUTE FUNCTION identity.notify_credentials_changed();

CREATE TRIGGER roles_credentials_changed
    AFTER UPDATE OR DELETE ON identity.roles
    FOR EACH STATEMENT EXECUTE FUNCTION identity.notify_credentials_changed();
