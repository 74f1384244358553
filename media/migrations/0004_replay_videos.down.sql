-- Back to year videos only: the replay videos' rows go (their objects stay in the store until deleted
-- by hand: `videos/{tenant}/{user}/{id}.*`), then their columns, and the period is required again.
DELETE FROM media.videos WHERE kind = 'dojo-replay';
ALTER TABLE media.videos
    DROP CONSTRAINT videos_kind_columns,
    DROP COLUMN kind,
    DROP COLUMN dojo_id,
    DROP COLUMN speed,
    DROP COLUMN source_token,
    ALTER COLUMN period SET NOT NULL,
    ALTER COLUMN period_start SET NOT NULL,
    ALTER COLUMN period_end SET NOT NULL;
