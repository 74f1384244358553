-- Back to 0003: names and descriptions only. Postings that only a tag gave are removed; the vocabulary
-- is append-only by design (a term with no postings finds nothing), so its tag terms stay.
CREATE OR REPLACE FUNCTION poc.index_poc() RETURNS trigger
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

ALTER TABLE poc.pocs NO FORCE ROW LEVEL SECURITY;
ALTER TABLE poc.search_postings NO FORCE ROW LEVEL SECURITY;
DELETE FROM poc.search_postings p
USING poc.pocs c
WHERE c.tenant_id = p.tenant_id AND c.id = p.poc_id AND NOT p.in_name
  AND p.term <> ALL (poc.search_words(c.description));
ALTER TABLE poc.pocs FORCE ROW LEVEL SECURITY;
ALTER TABLE poc.search_postings FORCE ROW LEVEL SECURITY;

DROP INDEX poc.search_vocabulary_terms;
