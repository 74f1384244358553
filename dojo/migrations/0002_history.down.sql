DROP TABLE dojo.tenant_settings;
DROP TABLE dojo.history_drivers;
DROP TABLE dojo.history_checkpoints;
DROP TABLE dojo.history_updates;
