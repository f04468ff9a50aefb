-- The verifiable log (docs/adr/0025-verifiable-log.md, the formats in eventledger_events.audit):
--
-- event_hash  SHA-256("eventledger-event-v1" 0x00 || content digest || position || recorded_at in microseconds ||
--             the event hash of the stream's previous version, or 32 zero bytes): every stream is a hash chain,
--             made at append. The content digest (stream, version, ids, type, schema version, occurred_at, actor,
--             payload in canonical JSON) is computed by the writer and checked by every verifier.
-- log_leaves  the notary's leaves: the events in position order (leaf index = rank), each leaf hash
--             SHA-256(0x00 || event_hash) (RFC 9162).
-- merkle_nodes the hashes of the perfect subtrees (level l covers leaves [idx * 2^l, (idx + 1) * 2^l)).
-- tree_heads  every signed tree head (Ed25519).
ALTER TABLE events ADD COLUMN IF NOT EXISTS event_hash bytea;
-- Events recorded before this migration get their hashes once, when the store starts (PostgresEventStore).
CREATE INDEX IF NOT EXISTS events_unhashed_idx ON events (position) WHERE event_hash IS NULL;

CREATE TABLE IF NOT EXISTS log_leaves (
    leaf_index  bigint PRIMARY KEY CHECK (leaf_index >= 0),
    position    bigint NOT NULL UNIQUE,
    leaf_hash   bytea  NOT NULL
);

CREATE TABLE IF NOT EXISTS merkle_nodes (
    level  integer NOT NULL CHECK (level > 0),
    idx    bigint  NOT NULL CHECK (idx >= 0),
    hash   bytea   NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE IF NOT EXISTS tree_heads (
    tree_size     bigint      PRIMARY KEY,
    root_hash     bytea       NOT NULL,
    timestamp_ms  bigint      NOT NULL,
    key_id        text        NOT NULL,
    signature     bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT statement_timestamp()
);

-- The notary's tables are append-only too: a proof must never change under an auditor.
DROP TRIGGER IF EXISTS log_leaves_append_only ON log_leaves;
CREATE TRIGGER log_leaves_append_only BEFORE UPDATE OR DELETE ON log_leaves
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
DROP TRIGGER IF EXISTS merkle_nodes_append_only ON merkle_nodes;
CREATE TRIGGER merkle_nodes_append_only BEFORE UPDATE OR DELETE ON merkle_nodes
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
DROP TRIGGER IF EXISTS tree_heads_append_only ON tree_heads;
CREATE TRIGGER tree_heads_append_only BEFORE UPDATE OR DELETE ON tree_heads
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();

-- The append, now drawing the positions itself (in the order of the arrays, after the transaction id as before:
-- docs/adr/0005) so that each event's hash can cover its position, and chaining each event to its stream's previous
-- one. Within one append a stream's events are consecutive versions, so the chain runs through the arrays.
DROP FUNCTION IF EXISTS append_events(text[], bigint[], uuid[], text[], integer[], timestamptz[], text[], uuid[],
                                      uuid[], jsonb[], uuid[], uuid[], timestamptz[]);
CREATE OR REPLACE FUNCTION append_events(
    p_stream_ids text[], p_versions bigint[], p_event_ids uuid[], p_types text[], p_schema_versions integer[],
    p_occurred timestamptz[], p_actors text[], p_correlations uuid[], p_causations uuid[], p_payloads jsonb[],
    p_clear_deadlines uuid[], p_deadline_ids uuid[], p_deadline_dues timestamptz[], p_digests bytea[]
) RETURNS TABLE (r_position bigint, r_stream_id text, r_stream_version bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n          integer := cardinality(p_stream_ids);
    recorded   timestamptz := statement_timestamp();
    micros     bigint := (extract(epoch FROM statement_timestamp()) * 1000000)::bigint;
    positions  bigint[];
    hashes     bytea[] := '{}';
    previous   bytea;
BEGIN
    PERFORM pg_current_xact_id();
    IF cardinality(p_clear_deadlines) > 0 THEN
        DELETE FROM transfer_deadlines WHERE transfer_id = ANY (p_clear_deadlines);
    END IF;
    IF cardinality(p_deadline_ids) > 0 THEN
        INSERT INTO transfer_deadlines (transfer_id, due_at)
        SELECT d.id, d.due FROM unnest(p_deadline_ids, p_deadline_dues) AS d (id, due)
        ON CONFLICT (transfer_id) DO UPDATE SET due_at = excluded.due_at;
    END IF;
    positions := ARRAY(SELECT nextval(pg_get_serial_sequence('events', 'position')) FROM generate_series(1, n));
    FOR i IN 1 .. n LOOP
        IF p_versions[i] = 1 THEN
            previous := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
        ELSIF i > 1 AND p_stream_ids[i] = p_stream_ids[i - 1] AND p_versions[i] = p_versions[i - 1] + 1 THEN
            previous := hashes[i - 1];
        ELSE
            SELECT e.event_hash INTO previous FROM events e
            WHERE e.stream_id = p_stream_ids[i] AND e.stream_version = p_versions[i] - 1;
            -- No previous event: the caller expected a version the stream does not have; the chain cannot be
            -- made, and the append is refused as a conflict would be.
            IF previous IS NULL THEN
                RAISE EXCEPTION 'stream % has no hashed event at version %', p_stream_ids[i], p_versions[i] - 1
                    USING ERRCODE = 'serialization_failure';
            END IF;
        END IF;
        hashes := array_append(hashes, sha256(convert_to('eventledger-event-v1', 'UTF8') || '\x00'::bytea || p_digests[i]
                                   || int8send(positions[i]) || int8send(micros) || previous));
    END LOOP;
    RETURN QUERY
    INSERT INTO events (position, tx_id, stream_id, stream_version, event_id, event_type, schema_version,
                        occurred_at, recorded_at, actor, correlation_id, causation_id, payload, event_hash)
    OVERRIDING SYSTEM VALUE
    SELECT e.position, pg_current_xact_id(), e.stream_id, e.version, e.event_id, e.event_type, e.schema_version,
           e.occurred, recorded, e.actor, e.correlation, e.causation, e.payload, e.hash
    FROM unnest(positions, p_stream_ids, p_versions, p_event_ids, p_types, p_schema_versions, p_occurred, p_actors,
                p_correlations, p_causations, p_payloads, hashes)
         AS e (position, stream_id, version, event_id, event_type, schema_version, occurred, actor, correlation,
               causation, payload, hash)
    RETURNING events.position, events.stream_id, events.stream_version;
END;
$$;
