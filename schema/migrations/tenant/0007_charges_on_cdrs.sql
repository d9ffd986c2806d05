-- A usage charge is recorded once, on the CDR that carries the usage (charged_micros, and now the balance after
-- it), instead of also in a ledger entry of its own: a rated accounting request writes one row fewer, on the
-- source and on the replica. The ledger of a subscriber is the union of its entries (top-ups, adjustments,
-- refunds) and its charged CDRs; every balance equals the sum of that union (`geoctl check-ledger`).
ALTER TABLE cdrs ADD COLUMN balance_after_micros bigint;

-- Charges written as ledger entries before this migration keep their entry (it names its CDR) and are not
-- counted a second time from the CDR.
CREATE VIEW ledger AS
    SELECT l.id, l.subscriber_id, l.kind, l.amount_micros, l.balance_after_micros, l.idempotency_key, l.request_hash,
           l.cdr_id, l.reason, l.created_at
    FROM ledger_entries l
    UNION ALL
    SELECT c.id, c.subscriber_id, 'charge', -c.charged_micros, c.balance_after_micros, NULL, NULL,
           c.id, 'usage', c.recorded_at
    FROM cdrs c
    WHERE c.charged_micros > 0 AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.cdr_id = c.id AND e.kind = 'charge');

-- A CDR is now a ledger entry too: append-only like ledger_entries. Ordinary triggers, so the CDC applier
-- (session_replication_role = replica) is not stopped by them. TRUNCATE is left to the operator: it removes a
-- shard's whole usage history at once, never one charge.
CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER cdrs_no_update BEFORE UPDATE OR DELETE ON cdrs
    FOR EACH ROW EXECUTE FUNCTION append_only();
