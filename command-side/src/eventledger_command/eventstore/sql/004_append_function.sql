-- One round trip per append: the transaction id, the deadlines and the events in a single statement, so that an
-- append without an idempotency key is one autocommit call. The transaction id is taken before any position is
-- drawn (docs/adr/0005-gap-safe-global-log.md).
CREATE OR REPLACE FUNCTION append_events(
    p_stream_ids text[], p_versions bigint[], p_event_ids uuid[], p_types text[], p_schema_versions integer[],
    p_occurred timestamptz[], p_actors text[], p_correlations uuid[], p_causations uuid[], p_payloads jsonb[],
    p_clear_deadlines uuid[], p_deadline_ids uuid[], p_deadline_dues timestamptz[]
) RETURNS TABLE (r_position bigint, r_stream_id text, r_stream_version bigint)
LANGUAGE plpgsql AS $$
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
    RETURN QUERY
    INSERT INTO events (tx_id, stream_id, stream_version, event_id, event_type, schema_version, occurred_at,
                        actor, correlation_id, causation_id, payload)
    SELECT pg_current_xact_id(), e.*
    FROM unnest(p_stream_ids, p_versions, p_event_ids, p_types, p_schema_versions, p_occurred, p_actors,
                p_correlations, p_causations, p_payloads) AS e
    RETURNING events.position, events.stream_id, events.stream_version;
END;
$$;
