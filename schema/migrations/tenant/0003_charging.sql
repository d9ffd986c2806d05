-- Charging from accounting: what each session has been billed for, what each CDR charged, the CoA and
-- Disconnect requests sent to NAS devices with their outcome, and soft deletion of subscribers (their
-- ledger stays: it is append-only and every balance must remain the sum of it).

-- Cumulative usage of a session that has been rated. Monotonic, unlike the NAS counters, which can be
-- re-based after a counter reset; money is priced on it (cost(after) - cost(before)).
ALTER TABLE sessions
    ADD COLUMN billed_bytes    bigint NOT NULL DEFAULT 0 CHECK (billed_bytes >= 0),
    ADD COLUMN billed_seconds  bigint NOT NULL DEFAULT 0 CHECK (billed_seconds >= 0),
    -- Set once the plan's exhaustion action (CoA or Disconnect) was issued for the session, so it is issued once.
    ADD COLUMN exhaustion_applied  boolean NOT NULL DEFAULT false;

-- What rating did with the CDR's usage: bucket amounts consumed and the Rater's marks (exhausted, capped).
ALTER TABLE cdrs
    ADD COLUMN data_used     bigint NOT NULL DEFAULT 0 CHECK (data_used >= 0),
    ADD COLUMN time_used     bigint NOT NULL DEFAULT 0 CHECK (time_used >= 0),
    ADD COLUMN rating_marks  integer NOT NULL DEFAULT 0;

ALTER TABLE subscribers DROP CONSTRAINT subscribers_status_check;
ALTER TABLE subscribers ADD CONSTRAINT subscribers_status_check CHECK (status IN ('active', 'suspended', 'deleted'));

-- RFC 5176 requests to NAS devices and what came of them.
CREATE TABLE change_requests (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('coa', 'disconnect')),
    reason          text NOT NULL,
    subscriber_id   uuid,
    session_id      uuid,
    nas_id          text NOT NULL,
    outcome         text NOT NULL DEFAULT 'pending' CHECK (outcome IN ('pending', 'ack', 'nak', 'timeout', 'error')),
    error_cause     integer,
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz
);
CREATE INDEX change_requests_by_subscriber ON change_requests (subscriber_id, created_at);
