-- One tenant database per shard (geo_<tenant>_<region>): the subscribers of one ISP homed in one region.
-- Rows get application-generated UUIDv7 keys, never sequences: sequences are not carried by logical
-- decoding, so a promoted replica would hand out ids that already exist. Every replicated table has a
-- primary key. Money is in micro-units (1/1,000,000) of the tenant's currency, never floating point.

CREATE TABLE plans (
    id                       text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    display_name             text NOT NULL,
    download_kbps            integer CHECK (download_kbps > 0),
    upload_kbps              integer CHECK (upload_kbps > 0),
    session_timeout_s        integer CHECK (session_timeout_s > 0),
    interim_interval_s       integer NOT NULL DEFAULT 300 CHECK (interim_interval_s >= 60),
    simultaneous_use         integer NOT NULL DEFAULT 1 CHECK (simultaneous_use >= 1),
    framed_pool              text,
    -- Quotas per period; NULL is unlimited.
    data_quota_bytes         bigint CHECK (data_quota_bytes >= 0),
    time_quota_s             bigint CHECK (time_quota_s >= 0),
    validity_days            integer CHECK (validity_days > 0),
    reset_day                smallint CHECK (reset_day BETWEEN 1 AND 28),
    -- Prepaid prices; 0 is a flat-rate plan.
    price_per_mb_micros      bigint NOT NULL DEFAULT 0 CHECK (price_per_mb_micros >= 0),
    price_per_minute_micros  bigint NOT NULL DEFAULT 0 CHECK (price_per_minute_micros >= 0),
    allow_overdraft          boolean NOT NULL DEFAULT false,
    exhaustion_action        text NOT NULL DEFAULT 'disconnect' CHECK (exhaustion_action IN ('throttle', 'disconnect')),
    throttle_download_kbps   integer CHECK (throttle_download_kbps > 0),
    throttle_upload_kbps     integer CHECK (throttle_upload_kbps > 0),
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CHECK (exhaustion_action <> 'throttle' OR (throttle_download_kbps IS NOT NULL AND throttle_upload_kbps IS NOT NULL))
);

CREATE TABLE subscribers (
    id            uuid PRIMARY KEY,
    username      text NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 253),
    -- The password sealed with AES-256-GCM under the configured key ring (Geo.Schema SecretBox), bound to
    -- this row's id. Reversible on purpose: CHAP needs the clear password. Never a plain-text column.
    password_enc  bytea NOT NULL,
    plan_id       text NOT NULL REFERENCES plans (id),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    valid_until   timestamptz,
    framed_ip     inet,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscribers_plan_id ON subscribers (plan_id);

CREATE TABLE quota_buckets (
    id             uuid PRIMARY KEY,
    subscriber_id  uuid NOT NULL REFERENCES subscribers (id),
    kind           text NOT NULL CHECK (kind IN ('data', 'time')),
    granted        bigint NOT NULL CHECK (granted >= 0),
    used           bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
    period_start   timestamptz NOT NULL,
    period_end     timestamptz,
    exhausted_at   timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subscriber_id, kind, period_start)
);

CREATE TABLE balances (
    subscriber_id  uuid PRIMARY KEY REFERENCES subscribers (id),
    amount_micros  bigint NOT NULL DEFAULT 0,
    currency       char(3) NOT NULL DEFAULT 'EUR',
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Append-only: a balance always equals the sum of its subscriber's entries.
CREATE TABLE ledger_entries (
    id                    uuid PRIMARY KEY,
    subscriber_id         uuid NOT NULL REFERENCES subscribers (id),
    kind                  text NOT NULL CHECK (kind IN ('topup', 'adjustment', 'charge', 'refund')),
    amount_micros         bigint NOT NULL,
    balance_after_micros  bigint NOT NULL,
    -- Client-supplied for top-ups and adjustments; derived from the CDR for charges.
    idempotency_key       text UNIQUE,
    request_hash          bytea,
    cdr_id                uuid,
    reason                text,
    created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_subscriber ON ledger_entries (subscriber_id, created_at);

CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_entries is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- Ordinary triggers: the CDC applier runs with session_replication_role = replica and is not stopped by them.
CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only();

CREATE TABLE nas_devices (
    id                               text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    address                          inet NOT NULL UNIQUE,
    -- Shared secrets sealed like passwords (SecretBox); the previous one stays valid during a rotation.
    secret_enc                       bytea NOT NULL,
    previous_secret_enc              bytea,
    previous_secret_expires_at       timestamptz,
    vendor                           text NOT NULL DEFAULT 'generic' CHECK (vendor IN ('generic', 'mikrotik', 'cisco', 'juniper')),
    coa_port                         integer NOT NULL DEFAULT 3799 CHECK (coa_port BETWEEN 1 AND 65535),
    require_message_authenticator    boolean NOT NULL DEFAULT true,
    created_at                       timestamptz NOT NULL DEFAULT now(),
    updated_at                       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    id                      uuid PRIMARY KEY,
    nas_id                  text NOT NULL REFERENCES nas_devices (id),
    acct_session_id         text NOT NULL,
    subscriber_id           uuid REFERENCES subscribers (id),
    username                text NOT NULL,
    nas_port                text,
    calling_station_id      text,
    framed_ip               inet,
    state                   text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    started_at              timestamptz NOT NULL,
    last_update_at          timestamptz NOT NULL,
    stopped_at              timestamptz,
    terminate_cause         text,
    -- The latest cumulative counters reported by the NAS (gigawords folded in).
    input_octets            bigint NOT NULL DEFAULT 0,
    output_octets           bigint NOT NULL DEFAULT 0,
    input_packets           bigint NOT NULL DEFAULT 0,
    output_packets          bigint NOT NULL DEFAULT 0,
    session_time_s          bigint NOT NULL DEFAULT 0,
    -- The cumulative counters already charged: charge = reported - charged, so nothing is charged twice.
    charged_input_octets    bigint NOT NULL DEFAULT 0,
    charged_output_octets   bigint NOT NULL DEFAULT 0,
    charged_session_time_s  bigint NOT NULL DEFAULT 0,
    UNIQUE (nas_id, acct_session_id)
);
CREATE INDEX sessions_open_by_subscriber ON sessions (subscriber_id) WHERE state = 'open';
CREATE INDEX sessions_open_by_nas ON sessions (nas_id) WHERE state = 'open';

CREATE TABLE cdrs (
    id                      uuid PRIMARY KEY,
    session_id              uuid NOT NULL REFERENCES sessions (id),
    subscriber_id           uuid,
    kind                    text NOT NULL CHECK (kind IN ('start', 'interim', 'stop')),
    event_time              timestamptz NOT NULL,
    recorded_at             timestamptz NOT NULL DEFAULT now(),
    input_octets            bigint NOT NULL,
    output_octets           bigint NOT NULL,
    session_time_s          bigint NOT NULL,
    delta_input_octets      bigint NOT NULL DEFAULT 0 CHECK (delta_input_octets >= 0),
    delta_output_octets     bigint NOT NULL DEFAULT 0 CHECK (delta_output_octets >= 0),
    delta_session_time_s    bigint NOT NULL DEFAULT 0 CHECK (delta_session_time_s >= 0),
    charged_micros          bigint NOT NULL DEFAULT 0 CHECK (charged_micros >= 0),
    -- Bit 1: a counter went backwards (NAS reboot or wrap) and was re-based, not charged negative.
    flags                   integer NOT NULL DEFAULT 0
);
CREATE INDEX cdrs_by_subscriber ON cdrs (subscriber_id, event_time);
CREATE INDEX cdrs_by_session ON cdrs (session_id);

-- Where the CDC applier of a replica stands: written in the same transaction as the changes it applied.
-- Local to each database: not published, not replicated.
CREATE TABLE replication_progress (
    source            text PRIMARY KEY,
    position          text NOT NULL,
    source_commit_at  timestamptz,
    applied_at        timestamptz NOT NULL DEFAULT now()
);
