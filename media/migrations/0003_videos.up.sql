-- The media service's year-in-review videos (issue 14): one row per requested video, under row-level
-- security like every tenant table, rendered by the same job queue as the reports (migration 0002).
CREATE TABLE media.videos (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    user_id         uuid NOT NULL,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    stage           text NOT NULL DEFAULT 'queued'
                    CHECK (stage IN ('queued', 'reading', 'rendering', 'uploading', 'done')),
    progress        smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    error           text,
    -- 'last-12-months' or a calendar year ('2025'); [period_start, period_end) as the request fixed it.
    period          text NOT NULL,
    period_start    timestamptz NOT NULL,
    period_end      timestamptz NOT NULL CHECK (period_end > period_start),
    resolution      text NOT NULL CHECK (resolution IN ('720p', '1080p')),
    locale          text NOT NULL CHECK (locale IN ('pt-BR', 'en')),
    header          jsonb NOT NULL DEFAULT '{}',
    -- The POC service's frozen search of the period (as the reports'), until the worker deletes it.
    export_id       text,
    export_secret   text,
    export_expires_at timestamptz,
    poc_count       integer,
    -- The three objects share this prefix: `videos/{tenant}/{user}/{id}` + .mp4, .jpg, .vtt.
    object_prefix   text,
    duration_seconds double precision,
    size_bytes      bigint,
    job_id          bigint,
    attempts        integer NOT NULL DEFAULT 0,
    run_token       uuid,
    idempotency_key text,
    request_hash    text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX videos_idempotency ON media.videos (tenant_id, user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX videos_by_user ON media.videos (tenant_id, user_id, created_at DESC, id DESC);
CREATE INDEX videos_by_tenant ON media.videos (tenant_id, created_at DESC, id DESC);
CREATE INDEX videos_active ON media.videos (tenant_id, user_id) WHERE status IN ('queued', 'running');

ALTER TABLE media.videos ENABLE ROW LEVEL SECURITY;
ALTER TABLE media.videos FORCE ROW LEVEL SECURITY;
CREATE POLICY videos_tenant_isolation ON media.videos
    USING (tenant_id = media.current_tenant()) WITH CHECK (tenant_id = media.current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON media.videos TO pocdojo_app;

-- A video's changes are announced on the reports' channel (payload: the row's id; ids are UUIDs, so they
-- never clash), so the one listener of each API process (`media.changes`) wakes `GET /v1/videos/{id}?wait=`.
CREATE TRIGGER videos_changed AFTER UPDATE OF status, stage, progress ON media.videos
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.stage IS DISTINCT FROM NEW.stage
                       OR OLD.progress IS DISTINCT FROM NEW.progress)
    EXECUTE FUNCTION media.notify_report_changed();
