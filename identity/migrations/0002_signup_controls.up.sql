-- Self-signup under the tenant's control (issue 11 #1): off unless an administrator turns it on,
-- optionally limited to e-mail domains; invitations that an administrator creates, that expire and
-- that are used once.

-- Off by default, and off for every existing tenant: they were created while signup defaulted to on,
-- so their flag says nothing about a choice. Administrators turn it back on deliberately.
-- The owner is subject to FORCE ROW LEVEL SECURITY like everyone: lift it for this one update.
ALTER TABLE identity.tenants ALTER COLUMN self_signup SET DEFAULT false;
ALTER TABLE identity.tenants NO FORCE ROW LEVEL SECURITY;
UPDATE identity.tenants SET self_signup = false;
ALTER TABLE identity.tenants FORCE ROW LEVEL SECURITY;

-- When not empty, only addresses at these domains (lower case, NFKC) may sign themselves up.
ALTER TABLE identity.tenants ADD COLUMN signup_domains text[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(signup_domains) <= 50);
GRANT UPDATE (signup_domains) ON identity.tenants TO pocdojo_app;

-- An invitation is a one-time code; only its SHA-256 is stored (the code has 256 random bits).
CREATE TABLE identity.invitations (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES identity.tenants (id),
    code_hash        bytea NOT NULL UNIQUE,
    email_normalized text CHECK (length(email_normalized) BETWEEN 3 AND 254),
    roles            text[] NOT NULL
                     CHECK (roles <@ ARRAY['admin', 'member']::text[] AND cardinality(roles) >= 1),
    created_by       uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz,
    used_by          uuid
);
CREATE INDEX invitations_by_tenant ON identity.invitations (tenant_id, id);
ALTER TABLE identity.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity.invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_tenant_isolation ON identity.invitations
    USING (tenant_id = identity.current_tenant())
    WITH CHECK (tenant_id = identity.current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON identity.invitations TO pocdojo_app;
