-- The collaborative document store: per-tenant documents as a compacted snapshot plus an append log.
CREATE SCHEMA IF NOT EXISTS crdt;
GRANT USAGE ON SCHEMA crdt TO pocdojo_app;

CREATE FUNCTION crdt.current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;
GRANT EXECUTE ON FUNCTION crdt.current_tenant() TO pocdojo_app;

-- One row per document: its compacted state (a Yjs update merging everything compacted so far).
CREATE TABLE crdt.documents (
    tenant_id    uuid NOT NULL,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 256),
    snapshot     bytea NOT NULL,
    compactions  integer NOT NULL DEFAULT 0,
    compacted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);
ALTER TABLE crdt.documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE crdt.documents FORCE ROW LEVEL SECURITY;
CREATE POLICY documents_tenant_isolation ON crdt.documents
    USING (tenant_id = crdt.current_tenant()) WITH CHECK (tenant_id = crdt.current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON crdt.documents TO pocdojo_app;

-- Updates not yet compacted, in the order they were stored.
CREATE TABLE crdt.updates (
    tenant_id  uuid NOT NULL,
    name       text NOT NULL,
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    data       bytea NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name, seq)
);
ALTER TABLE crdt.updates ENABLE ROW LEVEL SECURITY;
ALTER TABLE crdt.updates FORCE ROW LEVEL SECURITY;
CREATE POLICY updates_tenant_isolation ON crdt.updates
    USING (tenant_id = crdt.current_tenant()) WITH CHECK (tenant_id = crdt.current_tenant());
GRANT SELECT, INSERT, DELETE ON crdt.updates TO pocdojo_app;
