-- The POC catalogue (API.md §POCs): POCs, their search index, and the outbox of change events.
--
-- Why the search index is made of plain B-tree tables (and not pg_trgm/tsvector GIN indexes):
-- every tenant table has FORCED row-level security, and PostgreSQL only lets a query use an index
-- condition when its operator is LEAKPROOF or it may run before the policy's qual. Equality and
-- range comparisons on uuid/text/timestamptz are leakproof; pg_trgm's `%`/`<%`, `@@` and array `@>`
-- are not, so under RLS they run as filters over every row of the tenant (measured: a 10k-POC tenant
-- then costs tens of ms per search). Only a superuser can mark functions LEAKPROOF, which Aurora does
-- not offer. So search is an inverted index kept in ordinary tables, probed with leakproof equality
-- and range lookups:
--   search_postings   (tenant, term) -> POCs whose name/description contain the term
--   search_vocabulary (tenant, key)  -> terms; key = the term itself or a term with 1-2 characters
--                                       deleted (symmetric-delete spelling correction): a query word
--                                       and a term within a small edit distance share a key.
--   poc_tags          (tenant, tag, created_at) -> POCs carrying the tag, newest first.
-- The triggers below maintain them in the same transaction as the POC row, so they can never disagree.
-- Text is folded (unaccent + lower-case) with the `unaccent` extension and the builtin `pg_c_utf8`
-- collation (PostgreSQL 17+), so that results do not depend on the server's OS locale.
CREATE SCHEMA IF NOT EXISTS poc;
GRANT USAGE ON SCHEMA poc TO pocdojo_app;

-- Owned by this service: created in its schema (and dropped with it), never shared through `public`.
CREATE EXTENSION unaccent WITH SCHEMA poc;

-- The tenant context of the current transaction, NULL when none is set (policies fail closed).
CREATE FUNCTION poc.current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

-- Accent- and case-insensitive form of a text. unaccent() is only STABLE because it finds its
-- dictionary through search_path; here both the function and the dictionary are schema-qualified and
-- bound when this function is created, so the result depends on the argument alone (IMMUTABLE holds
-- as long as the unaccent rules file does not change; if it ever does, rebuild the search tables).
CREATE FUNCTION poc.fold(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN lower(poc.unaccent('poc.unaccent'::regdictionary, value) COLLATE pg_c_utf8);

-- The searchable words of a text: folded, split on anything that is not a Unicode letter or digit,
-- 2 to 32 characters, minus common Portuguese and English stop words; distinct, in first-seen order.
CREATE FUNCTION poc.search_words(doc text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
BEGIN ATOMIC
    SELECT coalesce(array_agg(w ORDER BY first_seen), '{}')
    FROM (
        SELECT w, min(n) AS first_seen
        FROM regexp_split_to_table(poc.fold(doc) COLLATE pg_c_utf8, '[^[:alnum:]]+') WITH ORDINALITY AS t(w, n)
        WHERE char_length(w) BETWEEN 2 AND 32
          AND w <> ALL (ARRAY[
              'ao', 'aos', 'as', 'com', 'da', 'das', 'de', 'do', 'dos', 'em', 'na', 'nas', 'no', 'nos',
              'os', 'ou', 'para', 'pela', 'pelo', 'por', 'que', 'se', 'um', 'uma', 'an', 'and', 'are',
              'at', 'be', 'by', 'for', 'from', 'in', 'is', 'it', 'of', 'on', 'or', 'the', 'to', 'with'])
        GROUP BY w
    ) AS words;
END;

-- How many edits a word of this length tolerates: none under 4 characters, 1 up to 7, then 2.
CREATE FUNCTION poc.max_edits(word text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN CASE WHEN char_length(word) >= 8 THEN 2 WHEN char_length(word) >= 4 THEN 1 ELSE 0 END;

-- A word and every string obtained by deleting up to `max_edits` of its characters, each with the
-- number of deletions. Two words within edit distance d share a key with deletions a + b <= 2d.
CREATE FUNCTION poc.deletion_keys(word text, max_edits integer) RETURNS TABLE (key text, edits integer)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT ROWS 60
BEGIN ATOMIC
    WITH one AS (
        SELECT DISTINCT overlay(word PLACING '' FROM i FOR 1) AS k
        FROM generate_series(1, char_length(word)) AS i
        WHERE max_edits >= 1
    ), two AS (
        SELECT DISTINCT overlay(one.k PLACING '' FROM j FOR 1) AS k
        FROM one, generate_series(1, char_length(one.k)) AS j
        WHERE max_edits >= 2
    )
    SELECT word, 0
    UNION ALL
    SELECT k, 1 FROM one WHERE k <> word
    UNION ALL
    SELECT k, 2 FROM two WHERE k <> word AND k NOT IN (SELECT k FROM one);
END;

CREATE TABLE poc.pocs (
    tenant_id   uuid NOT NULL,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    owner_id    text NOT NULL CHECK (char_length(owner_id) BETWEEN 1 AND 255),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 4000),
    github_url  text NOT NULL
                CHECK (github_url ~ '^https://github\.com/[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$'),
    language    text NOT NULL CHECK (char_length(language) BETWEEN 1 AND 64),
    tags        text[] NOT NULL DEFAULT '{}'
                CHECK (cardinality(tags) <= 20
                       AND array_to_string(tags, ' ') ~ '^([a-z0-9]+(-[a-z0-9]+)*( |$))*$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- GitHub owner and repository names are case-insensitive: one repository, one POC per tenant.
    repo_key    text COLLATE "C" GENERATED ALWAYS AS (lower(github_url)) STORED,
    -- The name as sorted: folded, compared byte-wise.
    name_key    text COLLATE "C" GENERATED ALWAYS AS (poc.fold(name)) STORED,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT pocs_repository_unique UNIQUE (tenant_id, repo_key)
);
-- Keyset pagination for each sort, and the equality filters that can drive a scan on their own.
CREATE INDEX pocs_by_created ON poc.pocs (tenant_id, created_at DESC, id DESC);
CREATE INDEX pocs_by_name ON poc.pocs (tenant_id, name_key, id);
CREATE INDEX pocs_by_language ON poc.pocs (tenant_id, language, created_at DESC, id DESC);
CREATE INDEX pocs_by_owner ON poc.pocs (tenant_id, owner_id, created_at DESC, id DESC);
ALTER TABLE poc.pocs ENABLE ROW LEVEL SECURITY;
ALTER TABLE poc.pocs FORCE ROW LEVEL SECURITY;
CREATE POLICY pocs_tenant_isolation ON poc.pocs
    USING (tenant_id = poc.current_tenant()) WITH CHECK (tenant_id = poc.current_tenant());
GRANT SELECT, INSERT, DELETE ON poc.pocs TO pocdojo_app;
GRANT UPDATE (name, description, github_url, language, tags, updated_at) ON poc.pocs TO pocdojo_app;

-- One row per (POC, tag), with the POC's creation time so a tag filter reads a page in order.
CREATE TABLE poc.poc_tags (
    tenant_id  uuid NOT NULL,
    poc_id     uuid NOT NULL,
    tag        text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, poc_id, tag),
    FOREIGN KEY (tenant_id, poc_id) REFERENCES poc.pocs (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX poc_tags_by_tag ON poc.poc_tags (tenant_id, tag, created_at DESC, poc_id DESC);
ALTER TABLE poc.poc_tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE poc.poc_tags FORCE ROW LEVEL SECURITY;
CREATE POLICY poc_tags_tenant_isolation ON poc.poc_tags
    USING (tenant_id = poc.current_tenant()) WITH CHECK (tenant_id = poc.current_tenant());
GRANT SELECT, INSERT, DELETE ON poc.poc_tags TO pocdojo_app;

-- The inverted index: one row per (term, POC); in_name marks terms of the name (ranked higher), and
-- the POC's creation time (immutable) lets a term's POCs be read newest first without touching pocs.
CREATE TABLE poc.search_postings (
    tenant_id  uuid NOT NULL,
    term       text COLLATE "C" NOT NULL,
    poc_id     uuid NOT NULL,
    in_name    boolean NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, poc_id, term) INCLUDE (in_name),
    FOREIGN KEY (tenant_id, poc_id) REFERENCES poc.pocs (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX search_postings_by_term ON poc.search_postings (tenant_id, term, in_name, created_at DESC, poc_id DESC);
ALTER TABLE poc.search_postings ENABLE ROW LEVEL SECURITY;
ALTER TABLE poc.search_postings FORCE ROW LEVEL SECURITY;
CREATE POLICY search_postings_tenant_isolation ON poc.search_postings
    USING (tenant_id = poc.current_tenant()) WITH CHECK (tenant_id = poc.current_tenant());
GRANT SELECT, INSERT, DELETE ON poc.search_postings TO pocdojo_app;

-- Every term a tenant's POCs ever used, under each of its deletion keys (edits = 0: the term itself).
-- Append-only: a term whose POCs are gone stays and simply finds no postings.
CREATE TABLE poc.search_vocabulary (
    tenant_id uuid NOT NULL,
    key       text COLLATE "C" NOT NULL,
    term      text COLLATE "C" NOT NULL,
    edits     smallint NOT NULL CHECK (edits BETWEEN 0 AND 2),
    PRIMARY KEY (tenant_id, key, term) INCLUDE (edits)
);
ALTER TABLE poc.search_vocabulary ENABLE ROW LEVEL SECURITY;
ALTER TABLE poc.search_vocabulary FORCE ROW LEVEL SECURITY;
CREATE POLICY search_vocabulary_tenant_isolation ON poc.search_vocabulary
    USING (tenant_id = poc.current_tenant()) WITH CHECK (tenant_id = poc.current_tenant());
GRANT SELECT, INSERT ON poc.search_vocabulary TO pocdojo_app;

-- Keeps poc_tags, search_postings and search_vocabulary in step with a POC row (runs as the caller,
-- so the tenant context and the policies apply to what it writes). Deletions cascade through the
-- foreign keys.
CREATE FUNCTION poc.index_poc() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    reindex_tags boolean := true;
    reindex_text boolean := true;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        reindex_tags := NEW.tags IS DISTINCT FROM OLD.tags;
        reindex_text := NEW.name IS DISTINCT FROM OLD.name OR NEW.description IS DISTINCT FROM OLD.description;
        IF reindex_tags THEN
            DELETE FROM poc.poc_tags WHERE tenant_id = OLD.tenant_id AND poc_id = OLD.id;
        END IF;
        IF reindex_text THEN
            DELETE FROM poc.search_postings WHERE tenant_id = OLD.tenant_id AND poc_id = OLD.id;
        END IF;
    END IF;
    IF reindex_tags THEN
        INSERT INTO poc.poc_tags (tenant_id, poc_id, tag, created_at)
        SELECT DISTINCT NEW.tenant_id, NEW.id, tag, NEW.created_at FROM unnest(NEW.tags) AS tag;
    END IF;
    IF reindex_text THEN
        INSERT INTO poc.search_postings (tenant_id, term, poc_id, in_name, created_at)
        SELECT NEW.tenant_id, w, NEW.id, bool_or(in_name), NEW.created_at
        FROM (
            SELECT unnest(poc.search_words(NEW.name)) AS w, true AS in_name
            UNION ALL
            SELECT unnest(poc.search_words(NEW.description)), false
        ) AS words
        GROUP BY w;
        INSERT INTO poc.search_vocabulary (tenant_id, key, term, edits)
        SELECT NEW.tenant_id, k.key, w.term, k.edits
        FROM (
            SELECT DISTINCT unnest(poc.search_words(NEW.name || ' ' || NEW.description)) AS term
        ) AS w
        CROSS JOIN LATERAL poc.deletion_keys(w.term, poc.max_edits(w.term)) AS k
        WHERE NOT EXISTS (
            SELECT 1 FROM poc.search_vocabulary v
            WHERE v.tenant_id = NEW.tenant_id AND v.key = w.term AND v.term = w.term
        )
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER pocs_index AFTER INSERT OR UPDATE OF name, description, tags ON poc.pocs
    FOR EACH ROW EXECUTE FUNCTION poc.index_poc();

-- Change events, written in the same transaction as the change (transactional outbox). A relay
-- publishes rows with published_at IS NULL in id order and stamps them; consumers de-duplicate by id.
CREATE TABLE poc.outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    aggregate_id uuid NOT NULL,
    event_type   text NOT NULL CHECK (event_type IN ('poc.created', 'poc.updated', 'poc.deleted')),
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON poc.outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_by_aggregate ON poc.outbox (tenant_id, aggregate_id, id);
ALTER TABLE poc.outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE poc.outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY outbox_tenant_isolation ON poc.outbox
    USING (tenant_id = poc.current_tenant()) WITH CHECK (tenant_id = poc.current_tenant());
GRANT SELECT, INSERT ON poc.outbox TO pocdojo_app;
