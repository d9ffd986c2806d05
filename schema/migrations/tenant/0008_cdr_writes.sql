-- What one accounting request costs the shard database (and its replica, which applies the same rows):
-- - The CDR's foreign key to its session checked every insert with a lookup and a share lock on the session
--   row, a WAL record each. The writer inserts a CDR only in the transaction that writes its session, and
--   sessions are never deleted, so the key holds by construction.
-- - cdrs_by_session served no query of the product: the API lists a subscriber's CDRs by time
--   (cdrs_by_subscriber); a session's CDRs are those of its subscriber with its session_id.
ALTER TABLE cdrs DROP CONSTRAINT cdrs_session_id_fkey;
DROP INDEX cdrs_by_session;
