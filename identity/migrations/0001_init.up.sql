-- Identity: the tenant directory, users, refresh tokens and the login throttle.
CREATE SCHEMA IF NOT EXISTS identity;
GRANT USAGE ON SCHEMA identity TO pocdojo_app;

-- The tenant context of the current transaction, NULL when none is set (policies fail closed).
CREATE FUNCTION identity.current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;
GRANT EXECUTE ON FUNCTION identity.current_tenant() TO pocdojo_app;

-- The directory of tenants. Global by nature (a login names its tenant by slug before any tenant
-- context exists); it holds no tenant data beyond the name. Writes are checked against the context.
CREATE TABLE identity.tenants (
    id          uuid PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    self_signup boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE identity.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenants_directory_read ON identity.tenants FOR SELECT USING (true);
CREATE POLICY tenants_write_own ON identity.tenants FOR INSERT
    WITH CHECK (id = identity.current_tenant());
CREATE POLICY tenants_update_own ON identity.tenants FOR UPDATE
    USING (id = identity.current_tenant()) WITH CHECK (id = identity.current_tenant());
GRANT SELECT, INSERT ON identity.tenants TO pocdojo_app;
GRANT UPDATE (name, self_signup) ON identity.tenants TO pocdojo_app;

CREATE TABLE identity.users (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES identity.tenants (id),
    email            text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    email_normalized text NOT NULL,
    password_hash    text NOT NULL,
    roles            text[] NOT NULL DEFAULT ARRAY['member']::text[]
                     CHECK (roles <@ ARRAY['admin', 'member']::text[] AND cardinality(roles) >= 1),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, email_normalized),
    UNIQUE (tenant_id, id)
);
ALTER TABLE identity.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity.users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_tenant_isolation ON identity.users
    USING (tenant_id = identity.current_tenant())
    WITH CHECK (tenant_id = identity.current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON identity.users TO pocdojo_app;

CREATE TABLE identity.refresh_tokens (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    user_id     uuid NOT NULL,
    family_id   uuid NOT NULL,
    parent_id   uuid,
    secret_hash bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz,
    revoked_reason text,
    FOREIGN KEY (tenant_id, user_id) REFERENCES identity.users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family ON identity.refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_expiry ON identity.refresh_tokens (expires_at);
ALTER TABLE identity.refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity.refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY refresh_tokens_tenant_isolation ON identity.refresh_tokens
    USING (tenant_id = identity.current_tenant())
    WITH CHECK (tenant_id = identity.current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON identity.refresh_tokens TO pocdojo_app;

-- Failed-login counters keyed by SHA-256 digests of (account, address) and (address): no personal
-- data in clear, no tenant rows; global so that every node sees the same counts.
CREATE TABLE identity.login_throttle (
    key              bytea PRIMARY KEY,
    failures         integer NOT NULL,
    window_start     timestamptz NOT NULL,
    blocked_until    timestamptz
);
GRANT SELECT, INSERT, UPDATE, DELETE ON identity.login_throttle TO pocdojo_app;
