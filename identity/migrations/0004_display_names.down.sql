DROP TRIGGER users_default_display_name ON identity.users;
DROP FUNCTION identity.default_display_name();
ALTER TABLE identity.users DROP COLUMN display_name;
