-- Placements number in the millions and change one row at a time, so unlike the other directory tables
-- (a statement-level "something changed, reload") each row change is announced with its content on its own
-- channel, and every process applies it to its in-memory index without reloading. Notifications are sent
-- only on commit and in commit order, so a listener that loaded the table after LISTEN converges to it.
-- Payloads: '+<tenant>/<home region>/<username>' (placed), '-<tenant>/<username>' (removed), '*' (truncated:
-- reload). Tenant and region ids cannot hold '/', the username comes last and may.

-- pg_notify payloads are limited to 8000 bytes; the tenant schema allows 253 characters.
ALTER TABLE subscriber_placements
    ADD CONSTRAINT subscriber_placements_username_length CHECK (length(username) BETWEEN 1 AND 253);

-- The orphan clean-up looks only at recent placements.
CREATE INDEX subscriber_placements_created_at ON subscriber_placements (created_at);

CREATE FUNCTION notify_placement_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.tenant_id, OLD.username) IS DISTINCT FROM (NEW.tenant_id, NEW.username)) THEN
        PERFORM pg_notify('geo_placements', '-' || OLD.tenant_id || '/' || OLD.username);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM pg_notify('geo_placements', '+' || NEW.tenant_id || '/' || NEW.home_region || '/' || NEW.username);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION notify_placements_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('geo_placements', '*');
    RETURN NULL;
END;
$$;

CREATE TRIGGER subscriber_placements_row_changed AFTER INSERT OR UPDATE OR DELETE ON subscriber_placements
    FOR EACH ROW EXECUTE FUNCTION notify_placement_changed();
CREATE TRIGGER subscriber_placements_truncated AFTER TRUNCATE ON subscriber_placements
    FOR EACH STATEMENT EXECUTE FUNCTION notify_placements_truncated();
