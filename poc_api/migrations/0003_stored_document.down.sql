ALTER TABLE poc.pocs DROP COLUMN document;
DROP FUNCTION poc.document(uuid, text, text, text, text, text[], text, timestamptz, timestamptz);
