-- Replay videos keep a history grant, not the caller's access token (issue 18): at request time the media
-- API obtains from the dojo service a grant to read that one dojo's history (`POST /v1/dojos/{id}/history/
-- grants`, the caller's rights decide); the worker reads the history and its frames with it. Its secret
-- is kept here as the POC export's is (`export_secret`): it reads one dojo's history only, read-only,
-- with its user's current rights, for a bounded time (POCDOJO_DOJO_HISTORY_GRANT_TTL_SECONDS), and is
-- forgotten (and revoked) at every end of the run. No bearer token is stored any more: a replay still
-- queued with one is failed now (it is asked again).
UPDATE media.videos
SET status = 'failed', error = 'The video could not be made: ask for the video again.', finished_at = now(),
    updated_at = now()
WHERE kind = 'dojo-replay' AND status IN ('queued', 'running');
ALTER TABLE media.videos
    DROP COLUMN source_token,
    ADD COLUMN grant_id text,
    ADD COLUMN grant_secret text,
    ADD COLUMN grant_expires_at timestamptz;
