-- The fencing token inside the shard database itself. Every write transaction of a region node reads
-- this row FOR SHARE and proceeds only when the epoch equals the one the node holds from the directory;
-- a promotion raises it (FOR UPDATE), which waits for in-flight writers and refuses later ones.
CREATE TABLE shard_fence (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    tenant_id     text NOT NULL,
    home_region   text NOT NULL,
    owner_region  text NOT NULL,
    epoch         bigint NOT NULL CHECK (epoch >= 1),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
