DROP TRIGGER usage_updates_insert ON crdt.updates;
DROP TRIGGER usage_updates_delete ON crdt.updates;
DROP TRIGGER usage_documents_insert ON crdt.documents;
DROP TRIGGER usage_documents_update ON crdt.documents;
DROP TRIGGER usage_documents_delete ON crdt.documents;
DROP FUNCTION crdt.count_update_bytes();
DROP FUNCTION crdt.count_snapshot_bytes();
DROP FUNCTION crdt.add_usage(jsonb);
DROP TABLE crdt.tenant_usage;
