-- Everything of the POC service lives in its schema, the unaccent extension included.
DROP SCHEMA poc CASCADE;
