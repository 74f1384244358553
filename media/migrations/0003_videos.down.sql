-- The videos' table, its policy, indexes and trigger (the job queue and the reports stay).
DROP TABLE media.videos;
