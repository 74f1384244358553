-- A change event carries the trace of the request that wrote it (issue 17): `trace_context` holds the W3C
-- headers (`traceparent`, `tracestate`) the POC service's span gave, NULL when tracing was off. The relay's
-- publish span continues that trace and puts its own context into the stream entry for consumers.
-- Bounded: the two headers take well under 1 kB (traceparent 55 characters, tracestate at most 512).
ALTER TABLE poc.outbox
    ADD COLUMN trace_context jsonb
    CONSTRAINT outbox_trace_context_shape CHECK (
        trace_context IS NULL OR (jsonb_typeof(trace_context) = 'object' AND octet_length(trace_context::text) <= 1024)
    );

-- The claim returns the context too (a new row type: drop and create, grants as in 0002).
DROP FUNCTION poc.outbox_claim(integer);
CREATE FUNCTION poc.outbox_claim(max_events integer)
    RETURNS TABLE (id bigint, tenant_id uuid, aggregate_id uuid, event_type text, payload jsonb,
                   created_at timestamptz, trace_context jsonb)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF max_events IS NULL OR max_events < 1 OR max_events > 1000 THEN
        RAISE EXCEPTION 'max_events must be between 1 and 1000' USING ERRCODE = '22023';
    END IF;
    -- 'poc.outbox' as a 64-bit key: another relay holding it is publishing; let it.
    IF NOT pg_try_advisory_xact_lock(7036117294719250003) THEN
        RETURN;
    END IF;
    RETURN QUERY
    UPDATE poc.outbox AS o SET published_at = now()
    WHERE o.id IN (
        SELECT u.id FROM poc.outbox AS u WHERE u.published_at IS NULL ORDER BY u.id LIMIT max_events
    )
    RETURNING o.id, o.tenant_id, o.aggregate_id, o.event_type, o.payload, o.created_at, o.trace_context;
END;
$$;
REVOKE ALL ON FUNCTION poc.outbox_claim(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION poc.outbox_claim(integer) TO pocdojo_app;
