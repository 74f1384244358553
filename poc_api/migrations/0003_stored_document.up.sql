-- Each POC's API document (its JSON as GET /v1/pocs/{id} shows it), stored with the row instead of built
-- on every read: a search page served 21 rows and spent about a quarter of its database time building
-- their JSON (json_build_object and two to_char per row). A stored generated column cannot disagree with
-- the row; writes pay the building once.
--
-- poc.document is IMMUTABLE although json_build_object and to_char are only STABLE: their results vary
-- with session settings only for types and patterns not used here (times are formatted in UTC with
-- numeric fields only; uuid, text and text[] render the same in every session).
CREATE FUNCTION poc.document(
    id uuid, name text, description text, github_url text, language text, tags text[], owner_id text,
    created_at timestamptz, updated_at timestamptz
) RETURNS json
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN json_build_object(
        'id', id, 'name', name, 'description', description, 'github_url', github_url,
        'language', language, 'tags', tags, 'owner_id', owner_id,
        'created_at', to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'updated_at', to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'));

-- Rewrites the table once (row-level security does not apply to a rewrite; no trigger fires).
ALTER TABLE poc.pocs ADD COLUMN document json NOT NULL GENERATED ALWAYS AS (
    poc.document(id, name, description, github_url, language, tags, owner_id, created_at, updated_at)
) STORED;
