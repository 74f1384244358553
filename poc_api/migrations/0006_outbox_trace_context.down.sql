-- Back to 0002's claim (without the trace context), then drop the column.
DROP FUNCTION poc.outbox_claim(integer);
CREATE FUNCTION poc.outbox_claim(max_events integer)
    RETURNS TABLE (id bigint, tenant_id uuid, aggregate_id uuid, event_type text, payload jsonb,
                   created_at timestamptz)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF max_events IS NULL OR max_events < 1 OR max_events > 1000 THEN
        RAISE EXCEPTION 'max_events must be between 1 and 1000' USING ERRCODE = '22023';
    END IF;
    IF NOT pg_try_advisory_xact_lock(7036117294719250003) THEN
        RETURN;
    END IF;
    RETURN QUERY
    UPDATE poc.outbox AS o SET published_at = now()
    WHERE o.id IN (
        SELECT u.id FROM poc.outbox AS u WHERE u.published_at IS NULL ORDER BY u.id LIMIT max_events
    )
    RETURNING o.id, o.tenant_id, o.aggregate_id, o.event_type, o.payload, o.created_at;
END;
$$;
REVOKE ALL ON FUNCTION poc.outbox_claim(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION poc.outbox_claim(integer) TO pocdojo_app;
ALTER TABLE poc.outbox DROP COLUMN trace_context;
