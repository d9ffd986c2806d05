-- What a replica had heard of its source, for the data-loss (RPO) estimate of a promotion, and the mark of a promoted
-- replica. Local to each database like the rest of replication_progress: not published, not replicated.
-- The heard columns are written by the pgoutput applier with every applied batch (same upsert, same transaction) and,
-- while nothing is applied, at most about once a second; a Kafka (Debezium) stream leaves them NULL.
ALTER TABLE replication_progress
    -- The highest source WAL end the stream had received (XLogData or keepalive): the whole source server's WAL.
    ADD COLUMN heard_position        pg_lsn,
    -- The source server's clock of that message (for a keepalive, extrapolated from the last change's clock).
    ADD COLUMN heard_source_time     timestamptz,
    -- This server's clock when the standby noticed it.
    ADD COLUMN heard_at              timestamptz,
    -- Source transactions applied by streaming since the replica was seeded (or since this migration).
    ADD COLUMN applied_transactions  bigint CHECK (applied_transactions >= 0),
    -- Set when the replica became the shard's owner database: no replication stream may write into it any more.
    ADD COLUMN promoted_at           timestamptz;

-- Once any stream of this database is marked promoted, every insert or update of replication_progress is refused but
-- the promotion's own marking: the applier writes its progress in the transaction of the changes it applies, so a stale
-- stream (a replicator that cannot see the directory and keeps or restarts its stream) fails instead of writing into
-- the new owner's database. Deleting the rows (to seed the database as a replica again) is left to the operator.
CREATE FUNCTION replication_progress_refuse_after_promotion() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    promoted timestamptz;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.promoted_at IS NULL AND NEW.promoted_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    SELECT max(p.promoted_at) INTO promoted FROM replication_progress p;
    IF promoted IS NOT NULL OR (TG_OP = 'UPDATE' AND OLD.promoted_at IS NOT NULL) THEN
        RAISE EXCEPTION 'replica database % was promoted at %: replication into it is refused (stream %)',
            current_database(), coalesce(promoted, OLD.promoted_at), NEW.source
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER replication_progress_refuse_after_promotion BEFORE INSERT OR UPDATE ON replication_progress
    FOR EACH ROW EXECUTE FUNCTION replication_progress_refuse_after_promotion();
-- ALWAYS: the applier's sessions run with session_replication_role = replica, where ordinary triggers do not fire.
ALTER TABLE replication_progress ENABLE ALWAYS TRIGGER replication_progress_refuse_after_promotion;
