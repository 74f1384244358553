-- Dojo replay videos (issue 18): a video is of a kind; a replay is of one dojo at a speed, so the year
-- video's period becomes optional (each kind's own columns are required by a CHECK). While a replay is
-- queued or running, `source_token` keeps the caller's access token: the worker reads the dojo's history
-- with the caller's own rights (the dojo service decides); every end of the run (done, failed, cancelled)
-- forgets it.
ALTER TABLE media.videos
    ADD COLUMN kind text NOT NULL DEFAULT 'year-in-review' CHECK (kind IN ('year-in-review', 'dojo-replay')),
    ADD COLUMN dojo_id uuid,
    ADD COLUMN speed double precision CHECK (speed BETWEEN 1 AND 64),
    ADD COLUMN source_token text,
    ALTER COLUMN period DROP NOT NULL,
    ALTER COLUMN period_start DROP NOT NULL,
    ALTER COLUMN period_end DROP NOT NULL,
    ADD CONSTRAINT videos_kind_columns CHECK (
        (kind = 'year-in-review' AND period IS NOT NULL AND period_start IS NOT NULL AND period_end IS NOT NULL
         AND dojo_id IS NULL AND speed IS NULL)
        OR (kind = 'dojo-replay' AND dojo_id IS NOT NULL AND speed IS NOT NULL AND period IS NULL));
