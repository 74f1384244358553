-- Exports of a search (POST /v1/pocs/exports, poc_api/exports.py): the POC documents a search returned
-- for a user at one moment, with their positions, frozen so that a report made later holds exactly what
-- GET /v1/pocs showed then. The media service reads them page by page with the export's secret, then
-- deletes them; they expire anyway (POCDOJO_POC_EXPORT_TTL_SECONDS) and are purged.
--
-- The secret is a capability: only its SHA-256 is stored. Both tables are tenant tables under forced
-- row-level security like every other.
CREATE TABLE poc.exports (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id     text NOT NULL CHECK (char_length(user_id) BETWEEN 1 AND 255),
    secret_hash bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
    count       integer NOT NULL DEFAULT 0 CHECK (count >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- A user's live exports (the per-user cap), and the expired ones in expiry order (the purge).
CREATE INDEX exports_by_user ON poc.exports (tenant_id, user_id, expires_at);
CREATE INDEX exports_by_expiry ON poc.exports (expires_at);
ALTER TABLE poc.exports ENABLE ROW LEVEL SECURITY;
ALTER TABLE poc.exports FORCE ROW LEVEL SECURITY;
CREATE POLICY exports_tenant_isolation ON poc.exports
    USING (tenant_id = poc.current_tenant()) WITH CHECK (tenant_id = poc.current_tenant());
GRANT SELECT, INSERT, DELETE ON poc.exports TO pocdojo_app;
GRANT UPDATE (count) ON poc.exports TO pocdojo_app;

-- One row per exported POC: its API document as the search served it, at its 1-based position.
CREATE TABLE poc.export_items (
    tenant_id uuid NOT NULL,
    export_id uuid NOT NULL,
    position  integer NOT NULL CHECK (position >= 1),
    document  json NOT NULL,
    PRIMARY KEY (tenant_id, export_id, position),
    FOREIGN KEY (tenant_id, export_id) REFERENCES poc.exports (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE poc.export_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE poc.export_items FORCE ROW LEVEL SECURITY;
CREATE POLICY export_items_tenant_isolation ON poc.export_items
    USING (tenant_id = poc.current_tenant()) WITH CHECK (tenant_id = poc.current_tenant());
GRANT SELECT, INSERT ON poc.export_items TO pocdojo_app;

-- The purge of expired exports, whatever their tenant (an idle tenant's exports expire too). As for the
-- outbox relay (0002), one narrow SECURITY DEFINER function does exactly this and nothing else; one extra
-- policy gives the schema owner the exports' rows, and their items go with them (the foreign key's
-- cascade). At most `max_exports` per call, oldest expiry first, skipping rows another purge holds: the
-- service calls it on every export it creates with a small bound, so the purge keeps pace with creation
-- at a bounded cost per call.
CREATE POLICY exports_purge ON poc.exports TO CURRENT_USER USING (true) WITH CHECK (true);

CREATE FUNCTION poc.purge_expired_exports(max_exports integer) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    purged integer;
BEGIN
    IF max_exports IS NULL OR max_exports < 1 OR max_exports > 100 THEN
        RAISE EXCEPTION 'max_exports must be between 1 and 100' USING ERRCODE = '22023';
    END IF;
    DELETE FROM poc.exports AS e
    WHERE (e.tenant_id, e.id) IN (
        SELECT x.tenant_id, x.id FROM poc.exports AS x
        WHERE x.expires_at <= now()
        ORDER BY x.expires_at
        LIMIT max_exports
        FOR UPDATE SKIP LOCKED
    );
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END;
$$;
REVOKE ALL ON FUNCTION poc.purge_expired_exports(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION poc.purge_expired_exports(integer) TO pocdojo_app;
