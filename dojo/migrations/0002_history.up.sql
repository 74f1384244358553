-- Dojo replay (issue 18, docs/replay.md): the history of every dojo document, kept apart from the
-- compacted collab store (crdt schema), so compaction never loses what replay needs.
--   history_updates     every update a node accepted from a client, with the server's time and its author
--   history_checkpoints the document state (and who wrote each character) at an instant, so any
--                       instant rebuilds from the nearest checkpoint plus a few updates
--   history_drivers     the randori driver changes
--   tenant_settings     per tenant: is history recorded (on by default)
CREATE TABLE dojo.history_updates (
    tenant_id  uuid NOT NULL,
    dojo_id    uuid NOT NULL,
    seq        bigint GENERATED ALWAYS AS IDENTITY,
    at         timestamptz NOT NULL,        -- when the node accepted it
    user_id    uuid,                        -- whose connection sent it (NULL: the server, no author)
    update     bytea NOT NULL,              -- the effective Yjs update (v1)
    PRIMARY KEY (tenant_id, dojo_id, seq),
    FOREIGN KEY (tenant_id, dojo_id) REFERENCES dojo.sessions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX history_updates_by_time ON dojo.history_updates (tenant_id, dojo_id, at, seq);
ALTER TABLE dojo.history_updates ENABLE ROW LEVEL SECURITY;
ALTER TABLE dojo.history_updates FORCE ROW LEVEL SECURITY;
CREATE POLICY history_updates_tenant_isolation ON dojo.history_updates
    USING (tenant_id = dojo.current_tenant()) WITH CHECK (tenant_id = dojo.current_tenant());
GRANT SELECT, INSERT ON dojo.history_updates TO pocdojo_app;

-- A checkpoint at `at` holds exactly the updates with `at` <= its `at` (seq: the highest among them).
CREATE TABLE dojo.history_checkpoints (
    tenant_id  uuid NOT NULL,
    dojo_id    uuid NOT NULL,
    at         timestamptz NOT NULL,
    seq        bigint NOT NULL,
    updates    integer NOT NULL,            -- how many updates it covers
    state      bytea NOT NULL,              -- the document as one Yjs update
    blame      jsonb NOT NULL,              -- {path: [[length in code points, user_id|null], ...]}
    PRIMARY KEY (tenant_id, dojo_id, at),
    FOREIGN KEY (tenant_id, dojo_id) REFERENCES dojo.sessions (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE dojo.history_checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE dojo.history_checkpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY history_checkpoints_tenant_isolation ON dojo.history_checkpoints
    USING (tenant_id = dojo.current_tenant()) WITH CHECK (tenant_id = dojo.current_tenant());
GRANT SELECT, INSERT, DELETE ON dojo.history_checkpoints TO pocdojo_app;

CREATE TABLE dojo.history_drivers (
    tenant_id     uuid NOT NULL,
    dojo_id       uuid NOT NULL,
    id            bigint GENERATED ALWAYS AS IDENTITY,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    driver_id     uuid,
    navigator_id  uuid,                     -- who drives next in the rotation (NULL: nobody else)
    PRIMARY KEY (tenant_id, dojo_id, id),
    FOREIGN KEY (tenant_id, dojo_id) REFERENCES dojo.sessions (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE dojo.history_drivers ENABLE ROW LEVEL SECURITY;
ALTER TABLE dojo.history_drivers FORCE ROW LEVEL SECURITY;
CREATE POLICY history_drivers_tenant_isolation ON dojo.history_drivers
    USING (tenant_id = dojo.current_tenant()) WITH CHECK (tenant_id = dojo.current_tenant());
GRANT SELECT, INSERT ON dojo.history_drivers TO pocdojo_app;

CREATE TABLE dojo.tenant_settings (
    tenant_id        uuid PRIMARY KEY,
    history_enabled  boolean NOT NULL DEFAULT true,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE dojo.tenant_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE dojo.tenant_settings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_settings_tenant_isolation ON dojo.tenant_settings
    USING (tenant_id = dojo.current_tenant()) WITH CHECK (tenant_id = dojo.current_tenant());
GRANT SELECT, INSERT, UPDATE ON dojo.tenant_settings TO pocdojo_app;
