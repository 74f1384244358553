-- Everything of the media service lives in its schema (the job queue of 0002 is rolled back first).
DROP SCHEMA media CASCADE;
