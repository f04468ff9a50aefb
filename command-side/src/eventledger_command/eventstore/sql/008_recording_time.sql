-- The recording time of an append may be given by the writer (docs/adr/0034-bitemporal-history.md).
--
-- An event's recorded_at is "when the ledger learnt it", the second time axis of the bitemporal audit questions
-- ("balance at value time V as known at K"). It stays the database's statement_timestamp() unless the caller passes
-- p_recorded: the command service does so only when it is built with a recording clock (tests that must record a
-- March entry "on April 5"); production passes NULL. Same function otherwise as 007: the chain hash covers the
-- recorded time that is stored.
DROP FUNCTION IF EXISTS append_events(text[], bigint[], uuid[], text[], integer[], timestamptz[], text[], uuid[],
                                      uuid[], jsonb[], uuid[], uuid[], timestamptz[], bytea[]);
CREATE OR REPLACE FUNCTION append_events(
    p_stream_ids text[], p_versions bigint[], p_event_ids uuid[], p_types text[], p_schema_versions integer[],
    p_occurred timestamptz[], p_actors text[], p_correlations uuid[], p_causations uuid[], p_payloads jsonb[],
    p_clear_deadlines uuid[], p_deadline_ids uuid[], p_deadline_dues timestamptz[], p_digests bytea[],
    p_recorded timestamptz DEFAULT NULL
) RETURNS TABLE (r_position bigint, r_stream_id text, r_stream_version bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n          integer := cardinality(p_stream_ids);
    recorded   timestamptz := coalesce(p_recorded, statement_timestamp());
    micros     bigint := (extract(epoch FROM coalesce(p_recorded, statement_timestamp())) * 1000000)::bigint;
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
