"""Identity business logic: tenants, users, the password and refresh grants, revocation.

All tenant data is read and written inside `Database.tenant_tx`, so PostgreSQL's row-level security
is what keeps tenants apart; the code below never filters by tenant on its own authority.
Decisions that must survive a refusal (a failed-login count, a revoked token family) are committed
first and the error is raised after the transaction, so a rollback never erases them.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from identity.passwords import PasswordHasher, PasswordPolicy, PasswordRejected
from identity.throttle import LoginThrottle
from identity.tokens import MalformedRefreshToken, RefreshToken, TokenIssuer
from runtime.db import Connection, Database
from runtime.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    ServiceError,
    ValidationFailed,
)
from runtime.text import identifier

_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")
ROLES = frozenset({"admin", "member"})


class InvalidGrant(ServiceError):
    """OAuth2 `invalid_grant` (RFC 6749 §5.2): 400 with the OAuth error code in the body."""

    status = 400
    slug = "invalid-grant"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error="invalid_grant", error_description=detail)


class LastAdmin(Conflict):
    """The change would leave the tenant without an administrator (409)."""

    slug = "last-admin"


ForgetUser = Callable[[uuid.UUID, uuid.UUID], None]
"""Told when an account's rights change (roles, deletion, a revoked sign-in): this process's memo of
current principals (`runtime.principal_status.PrincipalStatuses.forget_user`) drops it at once."""


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int

    def as_response(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
        }


def normalize_email(email: str, field: str = "email") -> str:
    """The canonical form of an e-mail address (`runtime.text.identifier`: NFKC, lower case), the one
    uniqueness and sign-in compare; ValidationFailed when it is not one."""
    try:
        value = identifier(email)
    except ValueError as exc:
        raise ValidationFailed([FieldError(field, "invalid_email", str(exc))]) from exc
    if len(value) > 254 or not _EMAIL_RE.match(value):
        raise ValidationFailed([FieldError(field, "invalid_email", "must be an e-mail address")])
    return value


def display_email(email: str) -> str:
    """The address as the user wrote it, in NFKC (so it looks like what it is)."""
    return unicodedata.normalize("NFKC", email.strip())


def check_slug(slug: str) -> str:
    """The canonical form of a tenant slug (NFKC, lower case), or ValidationFailed."""
    try:
        slug = identifier(slug)
    except ValueError as exc:
        raise ValidationFailed([FieldError("slug", "invalid_slug", str(exc))]) from exc
    if not _SLUG_RE.match(slug):
        raise ValidationFailed(
            [
                FieldError(
                    "slug",
                    "invalid_slug",
                    "must be 3-63 lowercase letters, digits or hyphens, starting and ending with a letter or digit",
                )
            ]
        )
    return slug


def check_password(policy: PasswordPolicy, password: str, field: str, *context: str) -> None:
    """ValidationFailed naming `field` when `password` breaks the policy."""
    try:
        policy.check(password, context=context)
    except PasswordRejected as exc:
        raise ValidationFailed([FieldError(field, str(exc.reason_code), exc.message)]) from exc


_DOMAIN_RE = re.compile(r"^(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}$")
MAX_SIGNUP_DOMAINS = 50


def normalize_domains(domains: Sequence[str]) -> list[str]:
    """E-mail domains for self-signup in canonical form (NFKC, lower case), without duplicates."""
    if len(domains) > MAX_SIGNUP_DOMAINS:
        raise ValidationFailed([FieldError("signup_domains", "too_many", f"at most {MAX_SIGNUP_DOMAINS} domains")])
    result: list[str] = []
    errors = []
    for i, raw in enumerate(domains):
        try:
            domain = identifier(raw.removeprefix("@"))
        except ValueError as exc:
            errors.append(FieldError(f"signup_domains.{i}", "invalid_domain", str(exc)))
            continue
        if len(domain) > 253 or not _DOMAIN_RE.match(domain):
            errors.append(FieldError(f"signup_domains.{i}", "invalid_domain", "must be a domain name like acme.com.br"))
        elif domain not in result:
            result.append(domain)
    if errors:
        raise ValidationFailed(errors)
    return result


def tenant_view(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "slug": row["slug"],
        "name": row["name"],
        "self_signup": row["self_signup"],
        "signup_domains": list(row["signup_domains"]),
    }


def _rfc3339(row: asyncpg.Record) -> str:
    return str(row["created_at"].isoformat().replace("+00:00", "Z"))


def user_view(row: asyncpg.Record, tenant_slug: str | None = None, tenant_name: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": str(row["id"]),
        "email": row["email"],
        "display_name": row["display_name"],
        "roles": sorted(row["roles"]),
        "created_at": _rfc3339(row),
    }
    if tenant_slug is not None:
        view["tenant"] = tenant_slug
    if tenant_name is not None:
        view["tenant_name"] = tenant_name
    return view


class IdentityService:
    def __init__(
        self,
        db: Database,
        *,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
        issuer: TokenIssuer,
        throttle: LoginThrottle,
        refresh_ttl: int,
        forget_user: ForgetUser | None = None,
    ) -> None:
        self.db = db
        self._forget_user = forget_user
        self.hasher = hasher
        self.policy = policy
        self.issuer = issuer
        self.throttle = throttle
        self.refresh_ttl = refresh_ttl

    # -- helpers ------------------------------------------------------------------------------------
    def _rights_changed(self, tenant_id: uuid.UUID | str, user_id: uuid.UUID) -> None:
        if self._forget_user is not None:
            self._forget_user(uuid.UUID(str(tenant_id)), user_id)

    async def _keep_an_admin(self, conn: Connection, tenant_id: str, user_id: uuid.UUID, change: str) -> None:
        """Refuse (409 `LastAdmin`) to let `user_id` stop being an administrator if no other is left.

        Race-safe: the tenant's row is locked first, so every such change in one tenant runs one after
        the other, and each counts the administrators after the previous one committed (two admins
        demoting each other at once: the second sees one admin left, itself, and is refused)."""
        await conn.execute("SELECT 1 FROM identity.tenants WHERE id = $1 FOR NO KEY UPDATE", uuid.UUID(tenant_id))
        row = await conn.fetchrow(
            "SELECT coalesce(bool_or(id = $1), false) AS target, count(*) FILTER (WHERE id <> $1) AS others"
            " FROM identity.users WHERE 'admin' = ANY(roles)",
            user_id,
        )
        assert row is not None
        if row["target"] and row["others"] == 0:
            raise LastAdmin(
                f"Cannot {change} the tenant's last administrator: make another user an administrator first."
            )

    def _check_password(self, password: str, field: str, *context: str) -> None:
        check_password(self.policy, password, field, *context)

    async def _tenant_by_slug(self, conn: Connection, slug: str) -> asyncpg.Record | None:
        """The tenant a client names (in any case or width), None when there is none by that name."""
        try:
            canonical = identifier(slug)
        except ValueError:
            return None  # not a slug any tenant can have
        return await conn.fetchrow(
            "SELECT id, slug, name, self_signup FROM identity.tenants WHERE slug = $1", canonical
        )

    async def tenant_slug(self, tenant_id: uuid.UUID | str) -> str:
        async with self.db.tenant_tx(tenant_id) as conn:
            slug = await conn.fetchval("SELECT slug FROM identity.tenants WHERE id = $1", uuid.UUID(str(tenant_id)))
        if slug is None:
            raise NotFound("The tenant no longer exists.")
        return str(slug)

    async def _issue(
        self,
        conn: Connection,
        user: asyncpg.Record,
        slug: str,
        family: uuid.UUID | None,
        parent: uuid.UUID | None,
    ) -> TokenPair:
        refresh = RefreshToken.new(user["tenant_id"])
        family = family or refresh.token_id
        await conn.execute(
            "INSERT INTO identity.refresh_tokens (id, tenant_id, user_id, family_id, parent_id, secret_hash,"
            " expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            refresh.token_id,
            user["tenant_id"],
            user["id"],
            family,
            parent,
            refresh.secret_hash,
            datetime.now(UTC) + timedelta(seconds=self.refresh_ttl),
        )
        access = self.issuer.access_token(
            user_id=user["id"],
            tenant_id=user["tenant_id"],
            tenant_slug=slug,
            email=user["email"],
            roles=user["roles"],
            session_id=family,
        )
        return TokenPair(access, refresh.encode(), self.issuer.access_ttl)

    # -- tenants ------------------------------------------------------------------------------------
    async def create_tenant(
        self,
        *,
        slug: str,
        name: str,
        admin_email: str,
        admin_password: str,
        self_signup: bool = False,
        signup_domains: Sequence[str] = (),
    ) -> dict[str, Any]:
        slug = check_slug(slug)
        email = normalize_email(admin_email, "admin_email")
        domains = normalize_domains(signup_domains)
        self._check_password(admin_password, "admin_password", admin_email, slug)
        password_hash = await self.hasher.hash_async(admin_password)
        tenant_id = uuid.uuid4()
        try:
            async with self.db.tenant_tx(tenant_id) as conn:
                row = await conn.fetchrow(
                    "INSERT INTO identity.tenants (id, slug, name, self_signup, signup_domains)"
                    " VALUES ($1, $2, $3, $4, $5) RETURNING id, slug, name, self_signup, signup_domains",
                    tenant_id,
                    slug,
                    name,
                    self_signup,
                    domains,
                )
                await conn.execute(
                    "INSERT INTO identity.users (id, tenant_id, email, email_normalized, password_hash, roles)"
                    " VALUES ($1, $2, $3, $4, $5, ARRAY['admin','member'])",
                    uuid.uuid4(),
                    tenant_id,
                    display_email(admin_email),
                    email,
                    password_hash,
                )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"A tenant with slug '{slug}' already exists.") from exc
        assert row is not None
        return tenant_view(row)

    async def tenant(self, tenant_id: str, *, admin: bool) -> dict[str, Any]:
        """The caller's tenant: id, slug, name, created_at; its sign-up settings for administrators only."""
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                "SELECT id, slug, name, self_signup, signup_domains, created_at FROM identity.tenants WHERE id = $1",
                uuid.UUID(tenant_id),
            )
        if row is None:
            raise NotFound("The tenant no longer exists.")
        view = {"id": str(row["id"]), "slug": row["slug"], "name": row["name"], "created_at": _rfc3339(row)}
        if admin:
            view.update(self_signup=row["self_signup"], signup_domains=list(row["signup_domains"]))
        return view

    async def update_tenant(
        self,
        tenant_id: str,
        *,
        name: str | None,
        self_signup: bool | None,
        signup_domains: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        domains = normalize_domains(signup_domains) if signup_domains is not None else None
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                "UPDATE identity.tenants SET name = coalesce($2, name), self_signup = coalesce($3, self_signup),"
                " signup_domains = coalesce($4, signup_domains) WHERE id = $1"
                " RETURNING id, slug, name, self_signup, signup_domains",
                uuid.UUID(tenant_id),
                name,
                self_signup,
                domains,
            )
        if row is None:
            raise NotFound("The tenant no longer exists.")
        return tenant_view(row)

    # -- users --------------------------------------------------------------------------------------
    async def register(
        self,
        *,
        tenant_slug: str,
        email: str,
        password: str,
        roles: frozenset[str] = frozenset({"member"}),
    ) -> dict[str, Any]:
        """An account created by an administrator (self-registration is `identity.signup`)."""
        normalized = normalize_email(email)
        async with self.db.global_tx() as conn:
            tenant = await self._tenant_by_slug(conn, tenant_slug)
        if tenant is None:
            raise NotFound(f"No tenant '{tenant_slug}'.")
        if not roles <= ROLES or not roles:
            raise ValidationFailed([FieldError("roles", "invalid_role", "roles must be among admin, member")])
        self._check_password(password, "password", email, tenant_slug)
        password_hash = await self.hasher.hash_async(password)
        try:
            async with self.db.tenant_tx(tenant["id"]) as conn:
                row = await conn.fetchrow(
                    "INSERT INTO identity.users (id, tenant_id, email, email_normalized, password_hash, roles)"
                    " VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, email, display_name, roles, created_at",
                    uuid.uuid4(),
                    tenant["id"],
                    display_email(email),
                    normalized,
                    password_hash,
                    sorted(roles),
                )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("An account with this e-mail already exists in this tenant.") from exc
        assert row is not None
        return user_view(row, tenant["slug"])

    async def list_users(self, tenant_id: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
        """The tenant's accounts in the order they were created (the cursor is the last one's id)."""
        after = uuid.UUID(cursor) if cursor else None
        async with self.db.tenant_tx(tenant_id) as conn:
            slug = await conn.fetchval("SELECT slug FROM identity.tenants WHERE id = $1", uuid.UUID(tenant_id))
            rows = await conn.fetch(
                "SELECT id, email, display_name, roles, created_at FROM identity.users"
                " WHERE $1::uuid IS NULL"
                " OR (created_at, id) > (SELECT created_at, id FROM identity.users WHERE id = $1)"
                " ORDER BY created_at, id LIMIT $2",
                after,
                limit + 1,
            )
        items = [user_view(r, slug) for r in rows[:limit]]
        return {"items": items, "next_cursor": items[-1]["id"] if len(rows) > limit else None}

    async def get_user(self, tenant_id: str, user_id: uuid.UUID) -> dict[str, Any]:
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                "SELECT id, email, display_name, roles, created_at FROM identity.users WHERE id = $1", user_id
            )
        if row is None:
            raise NotFound("No such user.")
        return user_view(row)

    async def update_user(
        self, tenant_id: str, user_id: uuid.UUID, *, roles: frozenset[str] | None, display_name: str | None
    ) -> dict[str, Any]:
        """An administrator changes an account's roles and/or display name (`None`: unchanged)."""
        if roles is not None and (not roles or not roles <= ROLES):
            raise ValidationFailed([FieldError("roles", "invalid_role", "roles must be among admin, member")])
        async with self.db.tenant_tx(tenant_id) as conn:
            if roles is not None and "admin" not in roles:
                await self._keep_an_admin(conn, tenant_id, user_id, "demote")
            row = await conn.fetchrow(
                "UPDATE identity.users SET roles = coalesce($2, roles), display_name = coalesce($3, display_name),"
                " updated_at = now() WHERE id = $1 RETURNING id, email, display_name, roles, created_at",
                user_id,
                sorted(roles) if roles is not None else None,
                display_name,
            )
        if row is None:
            raise NotFound("No such user.")
        if roles is not None:
            self._rights_changed(tenant_id, user_id)
        return user_view(row)

    async def rename_me(self, tenant_id: str, user_id: str, display_name: str) -> dict[str, Any]:
        """The caller changes their own display name."""
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                "WITH changed AS (UPDATE identity.users SET display_name = $2, updated_at = now() WHERE id = $1"
                " RETURNING *) SELECT u.id, u.email, u.display_name, u.roles, u.created_at, t.slug,"
                " t.name AS tenant_name FROM changed u JOIN identity.tenants t ON t.id = u.tenant_id",
                uuid.UUID(user_id),
                display_name,
            )
        if row is None:
            raise NotFound("The account no longer exists.")
        return user_view(row, row["slug"], row["tenant_name"])

    async def delete_user(self, tenant_id: str, user_id: uuid.UUID) -> None:
        async with self.db.tenant_tx(tenant_id) as conn:
            await self._keep_an_admin(conn, tenant_id, user_id, "delete")
            deleted = await conn.fetchval("DELETE FROM identity.users WHERE id = $1 RETURNING id", user_id)
        if deleted is None:
            raise NotFound("No such user.")
        self._rights_changed(tenant_id, user_id)

    async def me(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        async with self.db.tenant_tx(tenant_id) as conn:
            row = await conn.fetchrow(
                "SELECT u.id, u.email, u.display_name, u.roles, u.created_at, t.slug, t.name AS tenant_name"
                " FROM identity.users u JOIN identity.tenants t ON t.id = u.tenant_id WHERE u.id = $1",
                uuid.UUID(user_id),
            )
        if row is None:
            raise NotFound("The account no longer exists.")
        return user_view(row, row["slug"], row["tenant_name"])

    # -- grants -------------------------------------------------------------------------------------
    async def password_grant(self, *, tenant_slug: str, username: str, password: str, address: str) -> TokenPair:
        try:
            email = normalize_email(username, "username")
        except ValidationFailed as exc:
            raise InvalidGrant("Unknown tenant, e-mail or password.") from exc
        async with self.db.global_tx() as conn:
            tenant = await self._tenant_by_slug(conn, tenant_slug)
        if tenant is None:
            await self.hasher.verify_dummy_async(password)
            raise InvalidGrant("Unknown tenant, e-mail or password.")
        keys = self.throttle.keys(str(tenant["id"]), email, address)
        async with self.db.tenant_tx(tenant["id"]) as conn:
            await self.throttle.take(conn, keys)  # committed before the password check: counted atomically
            user = await conn.fetchrow(
                "SELECT id, tenant_id, email, password_hash, roles FROM identity.users WHERE email_normalized = $1",
                email,
            )
        if user is None:
            await self.hasher.verify_dummy_async(password)  # same cost as a real check: no user oracle
            ok = False
        else:
            ok = await self.hasher.verify_async(user["password_hash"], password)
        if not ok or user is None:
            raise InvalidGrant("Unknown tenant, e-mail or password.")  # the failure stays counted
        async with self.db.tenant_tx(tenant["id"]) as conn:
            await self.throttle.record_success(conn, keys)
            if self.hasher.needs_rehash(user["password_hash"]):
                await conn.execute(
                    "UPDATE identity.users SET password_hash = $2 WHERE id = $1",
                    user["id"],
                    await self.hasher.hash_async(password),
                )
            return await self._issue(conn, user, tenant["slug"], None, None)

    async def refresh_grant(self, refresh_token: str) -> TokenPair:
        try:
            presented = RefreshToken.parse(refresh_token)
        except MalformedRefreshToken as exc:
            raise InvalidGrant("The refresh token is invalid.") from exc
        revoked_user: uuid.UUID | None = None
        async with self.db.tenant_tx(presented.tenant_id) as conn:
            row = await conn.fetchrow(
                "SELECT r.id, r.family_id, r.secret_hash, r.expires_at, r.rotated_at, r.revoked_at, r.user_id"
                " FROM identity.refresh_tokens r WHERE r.id = $1 FOR UPDATE",
                presented.token_id,
            )
            if row is None or not presented.matches(row["secret_hash"]):
                raise InvalidGrant("The refresh token is invalid.")
            if row["revoked_at"] is not None:
                raise InvalidGrant("The refresh token was revoked.")
            if row["rotated_at"] is not None:
                # A rotated-out token came back: it was stolen or replayed. Revoke the whole family.
                await self._revoke_family(conn, row["family_id"], "reuse detected")
                revoked_user = row["user_id"]
            elif row["expires_at"] <= datetime.now(UTC):
                raise InvalidGrant("The refresh token has expired.")
            else:
                user = await conn.fetchrow(
                    "SELECT u.id, u.tenant_id, u.email, u.roles, t.slug FROM identity.users u"
                    " JOIN identity.tenants t ON t.id = u.tenant_id WHERE u.id = $1",
                    row["user_id"],
                )
                if user is None:
                    raise InvalidGrant("The account no longer exists.")
                await conn.execute("UPDATE identity.refresh_tokens SET rotated_at = now() WHERE id = $1", row["id"])
                return await self._issue(conn, user, user["slug"], row["family_id"], row["id"])
        assert revoked_user is not None
        self._rights_changed(presented.tenant_id, revoked_user)
        raise InvalidGrant("The refresh token was already used; every session of this sign-in was revoked.")

    async def _revoke_family(self, conn: Connection, family_id: uuid.UUID, reason: str) -> None:
        await conn.execute(
            "UPDATE identity.refresh_tokens SET revoked_at = now(), revoked_reason = $2"
            " WHERE family_id = $1 AND revoked_at IS NULL",
            family_id,
            reason,
        )

    async def revoke(self, token: str) -> None:
        """RFC 7009: revoke the refresh token's family; unknown tokens are not an error."""
        try:
            presented = RefreshToken.parse(token)
        except MalformedRefreshToken:
            return
        async with self.db.tenant_tx(presented.tenant_id) as conn:
            row = await conn.fetchrow(
                "SELECT family_id, secret_hash, user_id FROM identity.refresh_tokens WHERE id = $1", presented.token_id
            )
            revoked = row is not None and presented.matches(row["secret_hash"])
            if revoked:
                assert row is not None
                await self._revoke_family(conn, row["family_id"], "revoked by client")
        if revoked:
            assert row is not None
            self._rights_changed(presented.tenant_id, row["user_id"])


def require_admin(roles: frozenset[str]) -> None:
    if "admin" not in roles:
        raise Forbidden("Only a tenant administrator may do this.")
