-- Drop procrastinate's objects from the media schema (its tables, functions and types), nothing else.
DROP TABLE media.procrastinate_events, media.procrastinate_periodic_defers, media.procrastinate_jobs,
    media.procrastinate_workers CASCADE;
DO $$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'media' AND p.proname LIKE 'procrastinate\_%'
    LOOP
        EXECUTE format('DROP FUNCTION %s', fn);
    END LOOP;
END;
$$;
DROP TYPE media.procrastinate_job_to_defer_v1, media.procrastinate_job_event_type, media.procrastinate_job_status;
