-- Back to the caller's access token: no grant can become a token, so a replay still queued or running is
-- failed (it is asked again; its grant expires by itself).
UPDATE media.videos
SET status = 'failed', error = 'The video could not be made: ask for the video again.', finished_at = now(),
    updated_at = now()
WHERE kind = 'dojo-replay' AND status IN ('queued', 'running');
ALTER TABLE media.videos
    DROP COLUMN grant_id,
    DROP COLUMN grant_secret,
    DROP COLUMN grant_expires_at,
    ADD COLUMN source_token text;
