ALTER TABLE dojo.tenant_settings DROP COLUMN history_resumed_at;
