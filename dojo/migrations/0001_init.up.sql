-- Realtime dojos (API.md §Realtime dojos): sessions, their participants and roles, and chat.
-- The shared code itself is a collab document (crdt schema, room = dojo id); this schema holds
-- what the dojo service decides: who is in, with which role, the randori timer, the chat, and the
-- snapshot of every file taken when the dojo ends.
CREATE SCHEMA IF NOT EXISTS dojo;
GRANT USAGE ON SCHEMA dojo TO pocdojo_app;

CREATE FUNCTION dojo.current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;
GRANT EXECUTE ON FUNCTION dojo.current_tenant() TO pocdojo_app;

CREATE TABLE dojo.sessions (
    tenant_id        uuid NOT NULL,
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    title            text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    poc_id           uuid,
    language         text CHECK (char_length(language) BETWEEN 1 AND 64),
    host_id          uuid NOT NULL,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
    locked           boolean NOT NULL DEFAULT false,   -- no new joiners
    lobby            boolean NOT NULL DEFAULT false,   -- new joiners wait for the host to admit them
    randori_seconds  integer CHECK (randori_seconds > 0),  -- NULL: randori is off
    randori_next_at  timestamptz,                      -- when the driver role passes on
    randori_round    integer NOT NULL DEFAULT 0,
    version          bigint NOT NULL DEFAULT 1,        -- bumped by every change live clients must see
    started_at       timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz,
    snapshot         jsonb,                            -- {"files": {path: text}} when ended
    PRIMARY KEY (tenant_id, id),
    CHECK ((randori_seconds IS NULL) = (randori_next_at IS NULL)),
    CHECK ((status = 'ended') = (ended_at IS NOT NULL))
);
CREATE INDEX sessions_by_start ON dojo.sessions (tenant_id, started_at DESC, id DESC);
ALTER TABLE dojo.sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE dojo.sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY sessions_tenant_isolation ON dojo.sessions
    USING (tenant_id = dojo.current_tenant()) WITH CHECK (tenant_id = dojo.current_tenant());
GRANT SELECT, INSERT, UPDATE ON dojo.sessions TO pocdojo_app;

-- Everyone who asked to join: admitted (with a role), waiting in the lobby, or kicked (for good).
CREATE TABLE dojo.participants (
    tenant_id  uuid NOT NULL,
    dojo_id    uuid NOT NULL,
    user_id    uuid NOT NULL,
    role       text NOT NULL CHECK (role IN ('driver', 'navigator', 'observer')),
    status     text NOT NULL CHECK (status IN ('admitted', 'waiting', 'kicked')),
    seq        bigint GENERATED ALWAYS AS IDENTITY,   -- join order: the randori rotation order
    joined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, dojo_id, user_id),
    FOREIGN KEY (tenant_id, dojo_id) REFERENCES dojo.sessions (tenant_id, id) ON DELETE CASCADE
);
ALTER TABLE dojo.participants ENABLE ROW LEVEL SECURITY;
ALTER TABLE dojo.participants FORCE ROW LEVEL SECURITY;
CREATE POLICY participants_tenant_isolation ON dojo.participants
    USING (tenant_id = dojo.current_tenant()) WITH CHECK (tenant_id = dojo.current_tenant());
GRANT SELECT, INSERT, UPDATE ON dojo.participants TO pocdojo_app;

CREATE TABLE dojo.chat_messages (
    tenant_id  uuid NOT NULL,
    dojo_id    uuid NOT NULL,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    user_id    uuid NOT NULL,
    body       text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 20000),
    sent_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, dojo_id, id),
    FOREIGN KEY (tenant_id, dojo_id) REFERENCES dojo.sessions (tenant_id, id) ON DELETE CASCADE
);
-- The per-user rate limit counts a user's recent messages in the dojo.
CREATE INDEX chat_by_author ON dojo.chat_messages (tenant_id, dojo_id, user_id, sent_at);
ALTER TABLE dojo.chat_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE dojo.chat_messages FORCE ROW LEVEL SECURITY;
CREATE POLICY chat_tenant_isolation ON dojo.chat_messages
    USING (tenant_id = dojo.current_tenant()) WITH CHECK (tenant_id = dojo.current_tenant());
GRANT SELECT, INSERT ON dojo.chat_messages TO pocdojo_app;
