-- The W3C trace context of each event's append (ADR 0032): the `traceparent` of the span that appended it, so that
-- the relay, later and in another process, publishes the event as a child of that span. Telemetry, not content: the
-- chain hash does not cover it (ADR 0025), and it is NULL where no span was recorded (tracing off, older events).
ALTER TABLE events ADD COLUMN IF NOT EXISTS trace_context text;

-- The append of migration 008 (the recording time a writer may give) with one more array, the events' trace
-- contexts, before the optional recording time.
DROP FUNCTION IF EXISTS append_events(text[], bigint[], uuid[], text[], integer[], timestamptz[], text[], uuid[],
                                      uuid[], jsonb[], uuid[], uuid[], timestamptz[], bytea[], timestamptz);
CREATE OR REPLACE FUNCTION append_events(
    p_stream_ids text[], p_versions bigint[], p_event_ids uuid[], p_types text[], p_schema_versions integer[],
    p_occurred timestamptz[], p_actors text[], p_correlations uuid[], p_causations uuid[], p_payloads jsonb[],
    p_clear_deadlines uuid[], p_deadline_ids uuid[], p_deadline_dues timestamptz[], p_digests bytea[],
    p_trace_contexts text[], p_recorded timestamptz DEFAULT NULL
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
                        occurred_at, recorded_at, actor, correlation_id, causation_id, payload, event_hash,
                        trace_context)
    OVERRIDING SYSTEM VALUE
    SELECT e.position, pg_current_xact_id(), e.stream_id, e.version, e.event_id, e.event_type, e.schema_version,
           e.occurred, recorded, e.actor, e.correlation, e.causation, e.payload, e.hash,
           e.trace_context
    FROM unnest(positions, p_stream_ids, p_versions, p_event_ids, p_types, p_schema_versions, p_occurred, p_actors,
                p_correlations, p_causations, p_payloads, hashes, p_trace_contexts)
         AS e (position, stream_id, version, event_id, event_type, schema_version, occurred, actor, correlation,
               causation, payload, hash, trace_context)
    RETURNING events.position, events.stream_id, events.stream_version;
END;
$$;
