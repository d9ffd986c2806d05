-- Disaster recovery in the directory: the owner leases of the region nodes, and the DR event log.
-- Neither table notifies: the shards trigger makes every process reload the whole control plane, and a lease is
-- renewed every second per shard. Nobody keeps a copy of either; the promote driver reads them when it needs them.

-- The lease of a shard's owner region, at one epoch, renewed about every second with a TTL of about 4 s. Expiry is
-- on the directory database's clock, so that renewing nodes and the promote driver agree on it whatever their own
-- clocks say. A promotion waits until the old owner's lease has expired before it makes the standby the owner. One
-- row per shard: a new owner's first renewal replaces the old owner's row.
CREATE TABLE shard_owner_leases (
    tenant_id    text NOT NULL,
    home_region  text NOT NULL,
    -- The owner region whose nodes renew it.
    holder       text NOT NULL,
    -- The shard's epoch it was granted at: a lease never outlives its epoch in the holder's eyes.
    epoch        bigint NOT NULL CHECK (epoch >= 1),
    expires_at   timestamptz NOT NULL,
    renewed_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, home_region),
    FOREIGN KEY (tenant_id, home_region) REFERENCES shards (tenant_id, home_region) ON DELETE CASCADE
);

-- Every step of a promote (later: switchover, rejoin), with its timing and outcome, for the operator and the
-- post-mortem. Appended to and read, never updated. No foreign key: the events of a shard outlive it.
CREATE TABLE dr_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The database's clock, not the writer's: events from several geoctl runs sort on one clock.
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    tenant_id    text NOT NULL,
    home_region  text NOT NULL,
    operation    text NOT NULL CHECK (operation ~ '^[a-z][a-z0-9_-]{0,30}$'),
    step         text NOT NULL CHECK (length(step) BETWEEN 1 AND 100),
    outcome      text NOT NULL CHECK (outcome IN ('started', 'done', 'failed', 'refused', 'info')),
    detail       text NOT NULL,
    operator     text,
    data         jsonb,
    elapsed_ms   double precision
);

CREATE INDEX dr_events_shard ON dr_events (tenant_id, home_region, id);
