-- `q` also finds a POC by its tags: the words of its tags (`machine-learning` -> machine, learning) are
-- search terms like the words of its description (postings with in_name = false, the same score), so a
-- search reads the same tables with the same statements as before. The trigger now also re-indexes the
-- text when the tags change, and existing POCs get their tag postings here.
--
-- Short queries (search-as-you-type: `q=k`, `q=de`) look terms up by prefix in the vocabulary; the
-- partial index holds only the terms themselves (edits = 0), not their deletion keys, so a one-letter
-- prefix reads the terms that begin with it and nothing else.
CREATE INDEX search_vocabulary_terms ON poc.search_vocabulary (tenant_id, key) WHERE edits = 0;

CREATE OR REPLACE FUNCTION poc.index_poc() RETURNS trigger
    LANGUAGE plpgsql
AS $$
DECLARE
    reindex_tags boolean := true;
    reindex_text boolean := true;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        reindex_tags := NEW.tags IS DISTINCT FROM OLD.tags;
        reindex_text := reindex_tags OR NEW.name IS DISTINCT FROM OLD.name
                        OR NEW.description IS DISTINCT FROM OLD.description;
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
            UNION ALL
            SELECT unnest(poc.search_words(array_to_string(NEW.tags, ' '))), false
        ) AS words
        GROUP BY w;
        INSERT INTO poc.search_vocabulary (tenant_id, key, term, edits)
        SELECT NEW.tenant_id, k.key, w.term, k.edits
        FROM (
            SELECT DISTINCT unnest(poc.search_words(
                NEW.name || ' ' || NEW.description || ' ' || array_to_string(NEW.tags, ' '))) AS term
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

-- The backfill reads every tenant's rows: row-level security is lifted for this transaction only
-- (the owner runs migrations; FORCE comes back before it commits).
ALTER TABLE poc.pocs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE poc.search_postings NO FORCE ROW LEVEL SECURITY;
ALTER TABLE poc.search_vocabulary NO FORCE ROW LEVEL SECURITY;

INSERT INTO poc.search_postings (tenant_id, term, poc_id, in_name, created_at)
SELECT c.tenant_id, w.term, c.id, false, c.created_at
FROM poc.pocs c CROSS JOIN LATERAL unnest(poc.search_words(array_to_string(c.tags, ' '))) AS w(term)
WHERE cardinality(c.tags) > 0
ON CONFLICT DO NOTHING;

INSERT INTO poc.search_vocabulary (tenant_id, key, term, edits)
SELECT t.tenant_id, k.key, t.term, k.edits
FROM (
    SELECT DISTINCT c.tenant_id, w.term
    FROM poc.pocs c CROSS JOIN LATERAL unnest(poc.search_words(array_to_string(c.tags, ' '))) AS w(term)
    WHERE cardinality(c.tags) > 0
) AS t
CROSS JOIN LATERAL poc.deletion_keys(t.term, poc.max_edits(t.term)) AS k
ON CONFLICT DO NOTHING;

ALTER TABLE poc.pocs FORCE ROW LEVEL SECURITY;
ALTER TABLE poc.search_postings FORCE ROW LEVEL SECURITY;
ALTER TABLE poc.search_vocabulary FORCE ROW LEVEL SECURITY;
