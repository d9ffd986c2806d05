-- Idempotency keys of API top-ups and adjustments, per tenant. A shard's ledger enforces its keys only within that
-- shard, and a tenant has a shard per home region (owned by different regions after a promotion): a key is claimed
-- here, bound to its request's hash, before a shard applies it, so one key is applied once across all the tenant's
-- shards. The directory is the one database every region writes to; no region holds this table alone.
-- Not announced (no notify trigger): nobody keeps a copy, each claim is a single statement.
CREATE TABLE idempotency_keys (
    tenant_id     text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    -- SHA-256 of the request (kind, username, amount, reason): the same key with another request is refused.
    request_hash  bytea NOT NULL CHECK (length(request_hash) = 32),
    -- The home region of the subscriber it was claimed for, for an operator tracing a key.
    home_region   text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
