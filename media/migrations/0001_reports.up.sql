-- The media service's reports (issue 13): one row per requested PDF/CSV report, under row-level security
-- like every tenant table. The job queue that renders them is migration 0002.
CREATE SCHEMA IF NOT EXISTS media;
GRANT USAGE ON SCHEMA media TO pocdojo_app;

-- The tenant context of the current transaction, NULL when none is set (policies fail closed).
CREATE FUNCTION media.current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE TABLE media.reports (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL,
    user_id         uuid NOT NULL,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    stage           text NOT NULL DEFAULT 'queued'
                    CHECK (stage IN ('queued', 'reading', 'rendering', 'uploading', 'done')),
    progress        smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    error           text,
    format          text NOT NULL CHECK (format IN ('pdf', 'csv')),
    locale          text NOT NULL CHECK (locale IN ('pt-BR', 'en')),
    title           text,
    bom             boolean NOT NULL DEFAULT false,
    filters         jsonb NOT NULL DEFAULT '{}',
    header          jsonb NOT NULL DEFAULT '{}',
    -- The POC service's frozen search (decision 1): its id and secret, until the worker deletes it.
    export_id       text,
    export_secret   text,
    export_expires_at timestamptz,
    row_count       integer,
    object_key      text,
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
CREATE UNIQUE INDEX reports_idempotency ON media.reports (tenant_id, user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX reports_by_user ON media.reports (tenant_id, user_id, created_at DESC, id DESC);
CREATE INDEX reports_by_tenant ON media.reports (tenant_id, created_at DESC, id DESC);
CREATE INDEX reports_active ON media.reports (tenant_id, user_id) WHERE status IN ('queued', 'running');

ALTER TABLE media.reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE media.reports FORCE ROW LEVEL SECURITY;
CREATE POLICY reports_tenant_isolation ON media.reports
    USING (tenant_id = media.current_tenant()) WITH CHECK (tenant_id = media.current_tenant());
GRANT SELECT, INSERT, UPDATE, DELETE ON media.reports TO pocdojo_app;

-- Every change of a report's status, stage or progress is announced (payload: the report id), so the
-- API's long-polls (`GET /v1/reports/{id}?wait=`) wake on a worker's change in any process.
CREATE FUNCTION media.notify_report_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('media_report_changed', NEW.id::text);
    RETURN NEW;
END;
$$;
CREATE TRIGGER reports_changed AFTER UPDATE OF status, stage, progress ON media.reports
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.stage IS DISTINCT FROM NEW.stage
                       OR OLD.progress IS DISTINCT FROM NEW.progress)
    EXECUTE FUNCTION media.notify_report_changed();
