"""What the operator does from the command line (`pocdojo tenants|users`), beside the HTTP API.

The operator has no account in any tenant: these run with the service's database role, one tenant's
context per transaction (row-level security applies as for a request), users named by e-mail. They exist
to recover a tenant that lost its administrator: create one, reset a password, give a role back.
"""

from __future__ import annotations

import uuid
from typing import Any

from identity.service import IdentityService, check_password, normalize_email, tenant_view, user_view
from runtime.errors import FieldError, NotFound, ValidationFailed
from runtime.text import identifier

ROLE_SETS = {"admin": frozenset({"admin", "member"}), "member": frozenset({"member"})}
"""The roles `set-role` gives: an administrator is a member too."""


class TenantOperator:
    """Operator actions on tenants and their users, over the identity service's database."""

    def __init__(self, service: IdentityService) -> None:
        self.service = service

    async def list_tenants(self) -> list[dict[str, Any]]:
        """Every tenant with its user and administrator counts, oldest first."""
        async with self.service.db.global_tx() as conn:
            tenants = await conn.fetch(
                "SELECT id, slug, name, self_signup, signup_domains FROM identity.tenants ORDER BY created_at, slug"
            )
        listed = []
        for tenant in tenants:
            async with self.service.db.tenant_tx(tenant["id"]) as conn:
                counts = await conn.fetchrow(
                    "SELECT count(*) AS users, count(*) FILTER (WHERE 'admin' = ANY(roles)) AS admins"
                    " FROM identity.users"
                )
            assert counts is not None
            listed.append({**tenant_view(tenant), "users": counts["users"], "admins": counts["admins"]})
        return listed

    async def tenant_id(self, slug: str) -> uuid.UUID:
        try:
            canonical = identifier(slug)
        except ValueError as exc:
            raise NotFound(f"No tenant '{slug}'.") from exc
        async with self.service.db.global_tx() as conn:
            found = await conn.fetchval("SELECT id FROM identity.tenants WHERE slug = $1", canonical)
        if found is None:
            raise NotFound(f"No tenant '{slug}'.")
        return uuid.UUID(str(found))

    async def list_users(self, slug: str) -> list[dict[str, Any]]:
        """Every user of the tenant, in creation order."""
        tenant_id = await self.tenant_id(slug)
        async with self.service.db.tenant_tx(tenant_id) as conn:
            rows = await conn.fetch(
                "SELECT id, email, display_name, roles, created_at FROM identity.users ORDER BY created_at, id"
            )
        return [user_view(row, slug) for row in rows]

    async def create_user(self, slug: str, email: str, password: str, role: str) -> dict[str, Any]:
        return await self.service.register(tenant_slug=slug, email=email, password=password, roles=ROLE_SETS[role])

    async def _user_id(self, tenant_id: uuid.UUID, email: str) -> uuid.UUID:
        normalized = normalize_email(email)
        async with self.service.db.tenant_tx(tenant_id) as conn:
            found = await conn.fetchval("SELECT id FROM identity.users WHERE email_normalized = $1", normalized)
        if found is None:
            raise NotFound(f"No user '{email}' in this tenant.")
        return uuid.UUID(str(found))

    async def reset_password(self, slug: str, email: str, password: str) -> dict[str, Any]:
        """Set a new password and end every sign-in of the account (its refresh tokens are revoked)."""
        tenant_id = await self.tenant_id(slug)
        user_id = await self._user_id(tenant_id, email)
        check_password(self.service.policy, password, "password", email, slug)
        password_hash = await self.service.hasher.hash_async(password)
        async with self.service.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                "UPDATE identity.users SET password_hash = $2, updated_at = now() WHERE id = $1"
                " RETURNING id, email, display_name, roles, created_at",
                user_id,
                password_hash,
            )
            await conn.execute(
                "UPDATE identity.refresh_tokens SET revoked_at = now(), revoked_reason = 'password reset by operator'"
                " WHERE user_id = $1 AND revoked_at IS NULL",
                user_id,
            )
        if row is None:
            raise NotFound(f"No user '{email}' in this tenant.")
        return user_view(row, slug)

    async def set_role(self, slug: str, email: str, role: str, *, force: bool = False) -> dict[str, Any]:
        """Make the user an administrator or a member. Demoting the tenant's last administrator is refused
        (409) unless `force`: a tenant without one can only be recovered from here."""
        if role not in ROLE_SETS:
            raise ValidationFailed([FieldError("role", "invalid_role", "role must be admin or member")])
        tenant_id = await self.tenant_id(slug)
        user_id = await self._user_id(tenant_id, email)
        if force and role != "admin":
            async with self.service.db.tenant_tx(tenant_id) as conn:
                row = await conn.fetchrow(
                    "UPDATE identity.users SET roles = $2, updated_at = now() WHERE id = $1"
                    " RETURNING id, email, display_name, roles, created_at",
                    user_id,
                    sorted(ROLE_SETS[role]),
                )
            assert row is not None
            return user_view(row, slug)
        view = await self.service.update_user(str(tenant_id), user_id, roles=ROLE_SETS[role], display_name=None)
        return {**view, "tenant": slug}
