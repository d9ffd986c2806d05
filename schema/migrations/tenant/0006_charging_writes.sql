-- Charging writes a bucket and a balance row per charged subscriber and group commit. Like sessions (0005), leave
-- room on their pages so each new version stays on its page (a HOT update) and skips the indexes, on the source
-- and on the replica.
ALTER TABLE quota_buckets SET (fillfactor = 70);
ALTER TABLE balances SET (fillfactor = 70);

-- One charge per CDR, enforced on the CDR's id (16 bytes) instead of a derived text idempotency key ('cdr:<id>'):
-- a charge no longer carries an idempotency key, and the key's uniqueness covers only the entries that have one
-- (top-ups and adjustments), so a charge adds no entry to that index at all.
CREATE UNIQUE INDEX ledger_entries_one_charge_per_cdr ON ledger_entries (cdr_id) WHERE cdr_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_entries_idempotency_key ON ledger_entries (idempotency_key) WHERE idempotency_key IS NOT NULL;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_idempotency_key_key;
