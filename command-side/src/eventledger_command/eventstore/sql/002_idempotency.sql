-- Answers to idempotent commands, written in the same transaction as their events.
-- Kept at least 24 hours (the command service purges older ones, EVENTLEDGER_COMMAND_IDEMPOTENCY_RETENTION_HOURS).
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope               text        NOT NULL,
    key                 text        NOT NULL,
    request_fingerprint text        NOT NULL,
    status_code         integer     NOT NULL,
    response            bytea       NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT statement_timestamp(),
    PRIMARY KEY (scope, key)
);

CREATE INDEX IF NOT EXISTS idempotency_keys_recorded_at_idx ON idempotency_keys (recorded_at);
