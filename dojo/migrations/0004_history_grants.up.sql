-- History grants (docs/replay.md, dojo/replay/grants.py): a capability to read one dojo's history later,
-- for someone acting on a user's behalf without the user's access token (the media service's replay
-- video worker). `POST /v1/dojos/{id}/history/grants` answers a secret once; only its SHA-256 is kept
-- here. A grant reads `GET /v1/dojos/{id}/history` and `POST /v1/dojos/{id}/history/frames` of its dojo
-- only, with the rights its user still has, until it expires (POCDOJO_DOJO_HISTORY_GRANT_TTL_SECONDS) or
-- is revoked (deleted). A tenant table under forced row-level security like every other.
CREATE TABLE dojo.history_grants (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    dojo_id     uuid NOT NULL,
    user_id     uuid NOT NULL,                -- who granted: the grant reads with this user's rights
    session_id  uuid,                         -- the sign-in that granted (checked again at each use)
    as_admin    boolean NOT NULL,             -- granted by a tenant administrator
    secret_hash bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, dojo_id) REFERENCES dojo.sessions (tenant_id, id) ON DELETE CASCADE
);
-- The expired grants of a tenant (deleted whenever that tenant issues one).
CREATE INDEX history_grants_by_expiry ON dojo.history_grants (tenant_id, expires_at);
ALTER TABLE dojo.history_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE dojo.history_grants FORCE ROW LEVEL SECURITY;
CREATE POLICY history_grants_tenant_isolation ON dojo.history_grants
    USING (tenant_id = dojo.current_tenant()) WITH CHECK (tenant_id = dojo.current_tenant());
GRANT SELECT, INSERT, DELETE ON dojo.history_grants TO pocdojo_app;
