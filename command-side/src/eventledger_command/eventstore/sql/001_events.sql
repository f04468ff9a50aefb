-- The event log: the source of truth. Append-only; every other store is rebuilt from it.
--
-- position  the global order, from an identity sequence: unique and increasing, with holes where an append
--           failed (a conflict, a rollback). Transactions may commit out of position order; readers stay
--           gap-safe with tx_id (see docs/adr/0005-gap-safe-global-log.md).
-- tx_id     the appending transaction's id, taken BEFORE any position is drawn, so that the owner of an
--           undecided position always has an id below the xmax of any snapshot that shows a later position.
CREATE TABLE IF NOT EXISTS events (
    position        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id           xid8        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version > 0),
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL CHECK (schema_version > 0),
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT statement_timestamp(),
    actor           text        NOT NULL,
    correlation_id  uuid        NOT NULL,
    causation_id    uuid,
    payload         jsonb       NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

CREATE INDEX IF NOT EXISTS events_correlation_idx ON events (correlation_id);

-- History is never rewritten: updates and deletes are refused by the database itself.
CREATE OR REPLACE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

DROP TRIGGER IF EXISTS events_append_only ON events;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
DROP TRIGGER IF EXISTS events_no_truncate ON events;
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
