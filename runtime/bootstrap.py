"""Database bootstrap: roles and the database, done once with an administrator connection.

Three roles (ARCHITECTURE §4):
- `pocdojo_owner`   LOGIN, owns the database, schemas and tables; runs migrations.
- `pocdojo_app`     NOLOGIN group role that migrations grant table privileges to.
- `pocdojo_service` LOGIN, member of `pocdojo_app`, owns nothing, NOSUPERUSER NOBYPASSRLS:
                    the only role services connect as.
In AWS the same statements run once against Aurora with the master user (see deploy/).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from runtime.migrations import APP_GROUP_ROLE

OWNER_ROLE = "pocdojo_owner"
SERVICE_ROLE = "pocdojo_service"


@dataclass(frozen=True)
class Credentials:
    owner_password: str
    service_password: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(24))


def with_user(dsn: str, user: str, password: str, database: str | None = None) -> str:
    """The same server address with other credentials (and optionally another database)."""
    parts = urlsplit(dsn)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    path = f"/{database}" if database is not None else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment))


class BootstrapError(RuntimeError):
    """A role exists with privileges it must not have, and this administrator cannot take them away."""


async def _ensure_role(conn: asyncpg.Connection[asyncpg.Record], name: str, options: str, password: str | None) -> None:
    existing = await conn.fetchrow("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", name)
    superuser = await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if existing is None:
        statement = f'CREATE ROLE "{name}" {options}'
    elif superuser:
        statement = f'ALTER ROLE "{name}" {options}'
    else:
        # Only a superuser may even restate NOSUPERUSER (Aurora's master user is not one): check instead.
        if existing["rolsuper"] or existing["rolbypassrls"]:
            raise BootstrapError(f"role {name} is SUPERUSER or BYPASSRLS; a superuser must remove that")
        statement = f'ALTER ROLE "{name}"'
        if password is None:
            return
    if password is not None:
        # Parameters are not allowed in utility statements; quote the literal with the server's rules.
        literal = await conn.fetchval("SELECT quote_literal($1)", password)
        statement += f" PASSWORD {literal}"
    await conn.execute(statement)


_BOOTSTRAP_LOCK = "SELECT pg_advisory_lock(hashtext('pocdojo.bootstrap'))"
"""Serializes bootstraps: several processes starting at once (a local cluster) must not race on
ALTER ROLE ("tuple concurrently updated") or CREATE DATABASE. Held for the session; released on close."""


async def ensure_roles(admin_dsn: str, credentials: Credentials) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(_BOOTSTRAP_LOCK)
        await _ensure_role(conn, APP_GROUP_ROLE, "NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE", None)
        await _ensure_role(
            conn,
            OWNER_ROLE,
            "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE",
            credentials.owner_password,
        )
        await _ensure_role(
            conn,
            SERVICE_ROLE,
            "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE",
            credentials.service_password,
        )
        await conn.execute(f'GRANT "{APP_GROUP_ROLE}" TO "{SERVICE_ROLE}"')
    finally:
        await conn.close()


async def ensure_database(admin_dsn: str, database: str, *, template: str | None = None) -> bool:
    """Create `database` owned by the owner role if missing. Returns True when it was created."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(_BOOTSTRAP_LOCK)
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            return False
        clause = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        await conn.execute(f'CREATE DATABASE "{database}" OWNER "{OWNER_ROLE}"{clause}')
        await conn.execute(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
        await conn.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO "{APP_GROUP_ROLE}"')
        return True
    finally:
        await conn.close()
