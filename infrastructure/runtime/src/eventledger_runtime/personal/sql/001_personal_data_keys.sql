-- Each data subject's key, wrapped by a key-encryption key (eventledger_runtime.personal). An erasure clears the
-- wrapped key and kek id and records who, when and why; the row stays, so that no new key is made for the subject.
CREATE TABLE IF NOT EXISTS personal_data_keys (
    subject         text        PRIMARY KEY,
    key_id          text        NOT NULL UNIQUE CHECK (key_id ~ '^[0-9a-f]{32}$'),
    kek_id          text,
    wrapped_key     bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    erased_at       timestamptz,
    erased_by       text,
    erasure_reason  text,
    CHECK ((erased_at IS NULL) = (wrapped_key IS NOT NULL AND kek_id IS NOT NULL))
);
