-- Rolls back the schema; the self_signup flags the up script turned off stay off.
DROP TABLE identity.invitations;
REVOKE UPDATE (signup_domains) ON identity.tenants FROM pocdojo_app;
ALTER TABLE identity.tenants DROP COLUMN signup_domains;
ALTER TABLE identity.tenants ALTER COLUMN self_signup SET DEFAULT true;
