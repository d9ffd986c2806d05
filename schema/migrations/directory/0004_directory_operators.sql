-- The admin API's operators and what they did. Operator keys are named and revocable; like tenant API keys only
-- their SHA-256 is stored. The audit log records every admin action, refused ones included; it is appended to
-- and read, never updated. Neither table notifies: the router reads the (small) key table on each admin request,
-- so a revocation counts from the next request.

CREATE TABLE operator_keys (
    -- 'bootstrap' (the key configured as Router:Admin:OperatorKeySha256) and 'unknown' (a refused caller) are
    -- the audit log's names for callers without a row here.
    name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9._-]{0,62}$' AND name NOT IN ('bootstrap', 'unknown')),
    key_hash    bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The database's clock, not the writer's: entries from several routers and geoctl sort on one clock.
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    operator  text NOT NULL,
    action    text NOT NULL CHECK (action ~ '^[a-z_]+(\.[a-z_]+)*$'),
    -- No foreign key: the entries of a tenant outlive it.
    tenant    text,
    source    text NOT NULL,
    result    text NOT NULL CHECK (result IN ('ok', 'refused', 'failed')),
    reason    text CHECK (length(reason) <= 300),
    detail    jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant, at) WHERE tenant IS NOT NULL;
