-- The identity service's published read interface for every service (ARCHITECTURE §1: no service reads
-- another's tables). Every service calls it to learn whether a bearer's sign-in still stands and what
-- roles its account holds now (runtime/principal_status.py caches the answers for a few seconds).
-- Versioned by its name: a change of shape is a new function (`_v2`) beside this one, never an edit.
--
--   user_exists     the account (tenant, user) exists
--   roles           its current roles (NULL when it does not exist)
--   session_active  the refresh-token family the access token came from (its `sid`) belongs to this
--                   account and was not revoked (client revocation or refresh-token reuse)
--
-- SECURITY DEFINER: it runs as the schema owner, which row-level security still binds (FORCE), so the
-- function sets the tenant context to its tenant argument for its own queries and then puts the
-- caller's context back (transaction-local either way; an error aborts the caller's statement, and
-- with it the setting).
CREATE FUNCTION identity.principal_status_v1(p_tenant uuid, p_user uuid, p_session uuid)
    RETURNS TABLE (user_exists boolean, roles text[], session_active boolean)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    caller_tenant text := coalesce(current_setting('app.tenant_id', true), '');
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant::text, true);
    SELECT u.id IS NOT NULL,
           u.roles,
           coalesce((SELECT bool_and(r.revoked_at IS NULL)
                     FROM identity.refresh_tokens r
                     WHERE r.tenant_id = p_tenant AND r.family_id = p_session AND r.user_id = p_user), false)
      INTO user_exists, roles, session_active
      FROM (SELECT 1) AS one
      LEFT JOIN identity.users u ON u.tenant_id = p_tenant AND u.id = p_user;
    PERFORM set_config('app.tenant_id', caller_tenant, true);
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION identity.principal_status_v1(uuid, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION identity.principal_status_v1(uuid, uuid, uuid) TO pocdojo_app;
