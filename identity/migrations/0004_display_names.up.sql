-- Display names: how members see each other (GET /v1/members). Every account has one; an account
-- created without one (every insert so far) gets the local part of its e-mail address, by the trigger
-- below, so that no writer has to know about it. The service checks the text rules (NFKC, no control,
-- zero-width or bidi characters, 1-80 characters); the table keeps the length.
ALTER TABLE identity.users ADD COLUMN display_name text;

ALTER TABLE identity.users NO FORCE ROW LEVEL SECURITY;
UPDATE identity.users SET display_name = left(split_part(email, '@', 1), 80);
ALTER TABLE identity.users FORCE ROW LEVEL SECURITY;

ALTER TABLE identity.users ALTER COLUMN display_name SET NOT NULL;
ALTER TABLE identity.users ADD CONSTRAINT users_display_name_length
    CHECK (char_length(display_name) BETWEEN 1 AND 80);

CREATE FUNCTION identity.default_display_name() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.display_name IS NULL THEN
        NEW.display_name := left(split_part(NEW.email, '@', 1), 80);
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER users_default_display_name BEFORE INSERT ON identity.users
    FOR EACH ROW EXECUTE FUNCTION identity.default_display_name();
