-- Stored bytes per tenant (snapshots plus update logs), kept by statement-level triggers in the same
-- transaction as every write to crdt.documents and crdt.updates: the storage quota reads one row instead
-- of summing every document. The triggers write as the writer, so the tenant context (RLS) must be set,
-- as it is for every service write; a maintenance job writing these tables without a context fails loudly.
CREATE TABLE crdt.tenant_usage (
    tenant_id    uuid PRIMARY KEY,
    stored_bytes bigint NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE crdt.tenant_usage ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_usage_tenant_isolation ON crdt.tenant_usage
    USING (tenant_id = crdt.current_tenant()) WITH CHECK (tenant_id = crdt.current_tenant());
GRANT SELECT, INSERT, UPDATE ON crdt.tenant_usage TO pocdojo_app;

CREATE FUNCTION crdt.add_usage(deltas jsonb) RETURNS void
    LANGUAGE sql
    AS $$
    INSERT INTO crdt.tenant_usage AS u (tenant_id, stored_bytes)
        SELECT key::uuid, value::bigint FROM jsonb_each_text(deltas)
    ON CONFLICT (tenant_id) DO UPDATE SET stored_bytes = u.stored_bytes + EXCLUDED.stored_bytes, updated_at = now()
$$;

CREATE FUNCTION crdt.count_update_bytes() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM crdt.add_usage((SELECT jsonb_object_agg(tenant_id, bytes) FROM (
            SELECT tenant_id, sum(octet_length(data)) AS bytes FROM new_rows GROUP BY tenant_id) d));
    ELSE
        PERFORM crdt.add_usage((SELECT jsonb_object_agg(tenant_id, -bytes) FROM (
            SELECT tenant_id, sum(octet_length(data)) AS bytes FROM old_rows GROUP BY tenant_id) d));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION crdt.count_snapshot_bytes() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM crdt.add_usage((SELECT jsonb_object_agg(tenant_id, bytes) FROM (
            SELECT tenant_id, sum(octet_length(snapshot)) AS bytes FROM new_rows GROUP BY tenant_id) d));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM crdt.add_usage((SELECT jsonb_object_agg(tenant_id, bytes) FROM (
            SELECT tenant_id, sum(bytes) AS bytes FROM (
                SELECT tenant_id, octet_length(snapshot)::bigint AS bytes FROM new_rows
                UNION ALL SELECT tenant_id, -octet_length(snapshot)::bigint FROM old_rows) changes
            GROUP BY tenant_id) d));
    ELSE
        PERFORM crdt.add_usage((SELECT jsonb_object_agg(tenant_id, -bytes) FROM (
            SELECT tenant_id, sum(octet_length(snapshot)) AS bytes FROM old_rows GROUP BY tenant_id) d));
    END IF;
    RETURN NULL;
END
$$;
GRANT EXECUTE ON FUNCTION crdt.add_usage(jsonb), crdt.count_update_bytes(), crdt.count_snapshot_bytes() TO pocdojo_app;

-- Transition tables allow one event per trigger.
CREATE TRIGGER usage_updates_insert AFTER INSERT ON crdt.updates
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crdt.count_update_bytes();
CREATE TRIGGER usage_updates_delete AFTER DELETE ON crdt.updates
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crdt.count_update_bytes();
CREATE TRIGGER usage_documents_insert AFTER INSERT ON crdt.documents
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crdt.count_snapshot_bytes();
CREATE TRIGGER usage_documents_update AFTER UPDATE ON crdt.documents
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION crdt.count_snapshot_bytes();
CREATE TRIGGER usage_documents_delete AFTER DELETE ON crdt.documents
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crdt.count_snapshot_bytes();

-- What is stored already (the triggers' locks hold writers back until this transaction commits). The
-- owner sees every tenant's rows only while RLS is not forced on it, inside this transaction.
ALTER TABLE crdt.documents NO FORCE ROW LEVEL SECURITY;
ALTER TABLE crdt.updates NO FORCE ROW LEVEL SECURITY;
INSERT INTO crdt.tenant_usage (tenant_id, stored_bytes)
    SELECT tenant_id, sum(bytes) FROM (
        SELECT tenant_id, octet_length(snapshot)::bigint AS bytes FROM crdt.documents
        UNION ALL SELECT tenant_id, octet_length(data)::bigint FROM crdt.updates) stored
    GROUP BY tenant_id;
ALTER TABLE crdt.documents FORCE ROW LEVEL SECURITY;
ALTER TABLE crdt.updates FORCE ROW LEVEL SECURITY;
ALTER TABLE crdt.tenant_usage FORCE ROW LEVEL SECURITY;
