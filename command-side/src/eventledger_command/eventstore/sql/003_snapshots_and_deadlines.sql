-- The latest snapshot of a stream's state (aggregates load from it plus the events after it).
CREATE TABLE IF NOT EXISTS snapshots (
    stream_id       text        PRIMARY KEY,
    stream_version  bigint      NOT NULL,
    state           bytea       NOT NULL,
    taken_at        timestamptz NOT NULL DEFAULT statement_timestamp()
);

-- Pending transfers and when they expire; set and cleared in the same transaction as the transfer's events.
CREATE TABLE IF NOT EXISTS transfer_deadlines (
    transfer_id uuid        PRIMARY KEY,
    due_at      timestamptz NOT NULL
);

CREATE INDEX IF NOT EXISTS transfer_deadlines_due_idx ON transfer_deadlines (due_at);

-- Where each reader of the global log (the relay, ...) has got to.
CREATE TABLE IF NOT EXISTS log_checkpoints (
    name        text        PRIMARY KEY,
    position    bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT statement_timestamp()
);
