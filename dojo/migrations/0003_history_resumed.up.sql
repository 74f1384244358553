-- When a tenant's history was last turned back on (NULL: never off since the setting's row exists, or
-- off now). The end of a dojo records what its sealed document holds beyond the history only for a dojo
-- whose history was on all along (started after this instant): edits made while history was off are in
-- the final document too, and must not reach the history (dojo/replay/api.py `complete_history`).
ALTER TABLE dojo.tenant_settings ADD COLUMN history_resumed_at timestamptz;
