-- The outbox relay's way in (poc_api/outbox_relay.py). The relay publishes every tenant's change events,
-- so it must see rows of all tenants, which the tenant policy (and FORCE ROW LEVEL SECURITY) forbids to
-- every role. Rather than a role that bypasses row-level security, one narrow function does exactly the
-- relay's work and nothing else: it takes the relay lock, claims the oldest unpublished events and stamps
-- them, in the caller's transaction. It runs as the schema owner (SECURITY DEFINER), to whom one extra
-- policy gives the outbox's rows; the service role may only call it.
--
-- Order: one relay at a time (a transaction-level advisory lock, held until the caller commits, that is
-- after it has published the batch), events in id order. Ids follow commit order for one POC (its changes
-- are serialized by the row lock taken before the event is written), not necessarily across POCs.
-- Delivery is at least once: if the caller fails after publishing, its transaction rolls back and the
-- events are published again; consumers de-duplicate by id.
CREATE POLICY outbox_relay ON poc.outbox TO CURRENT_USER USING (true) WITH CHECK (true);

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
    -- 'poc.outbox' as a 64-bit key: another relay holding it is publishing; let it.
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
