-- The directory: the control-plane map every process reads. Regions, tenants, shards with their owner and
-- fencing epoch, NAS devices with their primary and backup region, and subscriber placement.

CREATE TABLE regions (
    id                text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]{0,30}$'),
    display_name      text NOT NULL,
    api_url           text NOT NULL,
    radius_host       text NOT NULL,
    radius_auth_port  integer NOT NULL CHECK (radius_auth_port BETWEEN 1 AND 65535),
    radius_acct_port  integer NOT NULL CHECK (radius_acct_port BETWEEN 1 AND 65535),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenants (
    -- Tenant ids become part of database names (geo_<tenant>_<region>): lower-case letters, digits, '_'.
    id            text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_]{0,30}$'),
    display_name  text NOT NULL,
    -- SHA-256 of the tenant's API key; the key itself is shown once and never stored.
    api_key_hash  bytea CHECK (api_key_hash IS NULL OR length(api_key_hash) = 32),
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shards (
    tenant_id         text NOT NULL REFERENCES tenants (id),
    home_region       text NOT NULL REFERENCES regions (id),
    owner_region      text NOT NULL REFERENCES regions (id),
    standby_region    text REFERENCES regions (id),
    -- The fencing token: raised on every change of owner; every write path checks it.
    epoch             bigint NOT NULL DEFAULT 1 CHECK (epoch >= 1),
    state             text NOT NULL DEFAULT 'active'
                      CHECK (state IN ('provisioning', 'active', 'promoting', 'switching', 'fenced', 'retiring')),
    lease_holder      text,
    lease_expires_at  timestamptz,
    database_name     text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, home_region),
    CHECK (standby_region IS DISTINCT FROM owner_region)
);

CREATE TABLE nas_devices (
    tenant_id       text NOT NULL REFERENCES tenants (id),
    id              text NOT NULL CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    -- Region nodes find the NAS by the source address of its packets, so an address is unique platform-wide.
    address         inet NOT NULL UNIQUE,
    primary_region  text NOT NULL REFERENCES regions (id),
    backup_region   text REFERENCES regions (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CHECK (backup_region IS DISTINCT FROM primary_region)
);

CREATE TABLE subscriber_placements (
    tenant_id    text NOT NULL,
    username     text NOT NULL,
    home_region  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, username),
    FOREIGN KEY (tenant_id, home_region) REFERENCES shards (tenant_id, home_region)
);

-- Every process keeps an in-memory snapshot of the directory and refreshes it on this notification.
CREATE FUNCTION notify_directory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('geo_directory', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER regions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON regions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_directory_changed();
CREATE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION notify_directory_changed();
CREATE TRIGGER shards_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON shards
    FOR EACH STATEMENT EXECUTE FUNCTION notify_directory_changed();
CREATE TRIGGER nas_devices_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nas_devices
    FOR EACH STATEMENT EXECUTE FUNCTION notify_directory_changed();
