DROP FUNCTION poc.purge_expired_exports(integer);
DROP TABLE poc.export_items;
DROP TABLE poc.exports;
