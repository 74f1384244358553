"""Self-registration (`POST /v1/auth/register`): who may join a tenant without an administrator.

A person may create their own account in a tenant when
- they present a pending invitation of that tenant (bound to their address if it names one), or
- the tenant's administrators turned self-signup on and, if they listed e-mail domains, the address is
  at one of them.

Every other case is refused, and every outcome gets the same answer (`Registration.ACCEPTED`): an unknown
tenant, self-signup off, a domain not listed, an invalid invitation and an address that already has an
account are indistinguishable to the caller, so the endpoint tells nobody which tenants exist or who
has an account. The costly step, the password hash, runs on every path before any lookup, so the time
taken does not tell them apart either. What may differ is said before any lookup: input that is
invalid whatever the tenant (a malformed address, a password the policy refuses: 422), and the
per-address rate limit (429), which also counts before any lookup.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any, Final

from identity.invitations import redeem
from identity.passwords import PasswordHasher, PasswordPolicy
from identity.service import check_password, display_email, normalize_email
from identity.throttle import RegistrationThrottle
from runtime.db import Database
from runtime.text import identifier

log = logging.getLogger("pocdojo.identity.signup")

ACCEPTED: Final[dict[str, Any]] = {
    "status": "accepted",
    "detail": (
        "If this tenant accepts a sign-up from this address, the account now exists: sign in with it. "
        "Otherwise nothing was created; ask the tenant's administrator for an invitation."
    ),
}


@dataclass(frozen=True)
class Registration:
    db: Database
    hasher: PasswordHasher
    policy: PasswordPolicy
    throttle: RegistrationThrottle

    async def register(
        self, *, tenant_slug: str, email: str, password: str, invitation: str | None, address: str
    ) -> None:
        """Create the account if the tenant allows it; return the same way whether it did or not."""
        normalized = normalize_email(email)
        check_password(self.policy, password, "password", email, tenant_slug)
        async with self.db.global_tx() as conn:
            await self.throttle.take(conn, address)
        password_hash = await self.hasher.hash_async(password)  # on every path: no timing oracle
        refusal = await self._create(tenant_slug, normalized, email, password_hash, invitation)
        if refusal is not None:
            log.info("registration refused", extra={"reason": refusal})

    async def _create(
        self, tenant_slug: str, normalized: str, email: str, password_hash: str, invitation: str | None
    ) -> str | None:
        """Create the account; None when it was created, else the reason (for the log only)."""
        try:
            slug = identifier(tenant_slug)
        except ValueError:
            return "no such tenant"
        async with self.db.global_tx() as conn:
            tenant = await conn.fetchrow(
                "SELECT id, self_signup, signup_domains FROM identity.tenants WHERE slug = $1", slug
            )
        if tenant is None:
            return "no such tenant"
        async with self.db.tenant_tx(tenant["id"]) as conn:
            roles: list[str] = ["member"]
            invited = None
            if invitation is not None:
                invited = await redeem(conn, invitation, normalized)
                if invited is None:
                    return "invalid invitation"
                roles = list(invited["roles"])
            elif not tenant["self_signup"]:
                return "self-signup off"
            elif tenant["signup_domains"] and normalized.rsplit("@", 1)[1] not in tenant["signup_domains"]:
                return "domain not allowed"
            user_id = await conn.fetchval(
                "INSERT INTO identity.users (id, tenant_id, email, email_normalized, password_hash, roles)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, email_normalized) DO NOTHING"
                " RETURNING id",
                uuid.uuid4(),
                tenant["id"],
                display_email(email),
                normalized,
                password_hash,
                sorted(roles),
            )
            if user_id is None:
                if invited is not None:  # give the invitation back: it stays usable by the right person
                    await conn.execute("UPDATE identity.invitations SET used_at = NULL WHERE id = $1", invited["id"])
                return "account exists"
            if invited is not None:
                await conn.execute("UPDATE identity.invitations SET used_by = $2 WHERE id = $1", invited["id"], user_id)
        return None
