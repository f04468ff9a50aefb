-- The append in one parameter (docs/adr/0041-append-in-one-document.md): the events, their digests and trace
-- contexts and the deadlines come as one JSON document instead of 15 arrays, so that the writer serialises them in
-- one call (orjson, the payloads embedded as they are) instead of converting each array element in Python.
--
-- The document: {"e": [{"s": stream, "v": version, "i": event id, "t": type, "n": schema version, "o": occurred_at,
-- "a": actor, "c": correlation id, "k": causation id or null, "p": payload, "d": content digest in hex, "x": trace
-- context or null}, ...], "set": [{"i": transfer id, "d": due_at}, ...], "clear": [transfer id, ...]}.
--
-- Nothing else changes: the arrays are rebuilt here in the document's order and handed to append_events (009), so
-- the transaction id is still taken before any position is drawn (ADR 0005) and the chain is made as before
-- (ADR 0025).
CREATE OR REPLACE FUNCTION append_events_document(p_append jsonb, p_recorded timestamptz DEFAULT NULL)
RETURNS TABLE (r_position bigint, r_stream_id text, r_stream_version bigint)
LANGUAGE plpgsql AS $$
DECLARE
    a_streams      text[];
    a_versions     bigint[];
    a_ids          uuid[];
    a_types        text[];
    a_schemas      integer[];
    a_occurred     timestamptz[];
    a_actors       text[];
    a_correlations uuid[];
    a_causations   uuid[];
    a_payloads     jsonb[];
    a_digests      bytea[];
    a_traces       text[];
BEGIN
    SELECT array_agg(e.s ORDER BY e.ord), array_agg(e.v ORDER BY e.ord), array_agg(e.i ORDER BY e.ord),
           array_agg(e.t ORDER BY e.ord), array_agg(e.n ORDER BY e.ord), array_agg(e.o ORDER BY e.ord),
           array_agg(e.a ORDER BY e.ord), array_agg(e.c ORDER BY e.ord), array_agg(e.k ORDER BY e.ord),
           array_agg(e.p ORDER BY e.ord), array_agg(decode(e.d, 'hex') ORDER BY e.ord), array_agg(e.x ORDER BY e.ord)
      INTO a_streams, a_versions, a_ids, a_types, a_schemas, a_occurred, a_actors, a_correlations, a_causations,
           a_payloads, a_digests, a_traces
      FROM ROWS FROM (jsonb_to_recordset(p_append -> 'e')
                      AS (s text, v bigint, i uuid, t text, n integer, o timestamptz, a text, c uuid, k uuid,
                          p jsonb, d text, x text))
           WITH ORDINALITY AS e (s, v, i, t, n, o, a, c, k, p, d, x, ord);
    RETURN QUERY
    SELECT * FROM append_events(
        coalesce(a_streams, '{}'), a_versions, a_ids, a_types, a_schemas, a_occurred, a_actors, a_correlations,
        a_causations, a_payloads,
        ARRAY(SELECT jsonb_array_elements_text(coalesce(p_append -> 'clear', '[]'))::uuid),
        ARRAY(SELECT (d ->> 'i')::uuid FROM jsonb_array_elements(coalesce(p_append -> 'set', '[]')) AS d),
        ARRAY(SELECT (d ->> 'd')::timestamptz FROM jsonb_array_elements(coalesce(p_append -> 'set', '[]')) AS d),
        a_digests, a_traces, p_recorded);
END;
$$;
