DROP FUNCTION identity.principal_status_v1(uuid, uuid, uuid);
