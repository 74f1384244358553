"""Versioned SQL migrations per service schema, with rollback.

Each service package ships `migrations/NNNN_name.up.sql` and `NNNN_name.down.sql`. Applied versions
are recorded in `<schema>.schema_migrations` with a checksum of the up script, so an edited,
already-applied migration is detected rather than silently diverging. Every step runs in its own
transaction holding an advisory lock on the schema, so several nodes starting at once migrate once.
Migrations run as the schema owner role; services connect as a role that owns nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$")

APP_GROUP_ROLE = "pocdojo_app"
"""The NOLOGIN group every service login role belongs to; migrations grant to it."""


class MigrationError(RuntimeError):
    """A migration set is inconsistent, or a step failed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: str
    down: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.up.encode()).hexdigest()


@dataclass(frozen=True)
class ServiceSchema:
    """A schema and the package holding its migrations (`<package>/migrations`)."""

    schema: str
    package: str

    def migrations(self) -> list[Migration]:
        folder = resources.files(self.package).joinpath("migrations")
        ups: dict[int, tuple[str, str]] = {}
        downs: dict[int, str] = {}
        for entry in folder.iterdir():
            match = _FILE_RE.match(entry.name)
            if not match:
                continue
            version, name, direction = int(match.group(1)), match.group(2), match.group(3)
            text = entry.read_text(encoding="utf-8")
            if direction == "up":
                ups[version] = (name, text)
            else:
                downs[version] = text
        result = []
        for version in sorted(ups):
            if version not in downs:
                raise MigrationError(f"{self.schema}: migration {version:04d} has no down script")
            name, up = ups[version]
            result.append(Migration(version, name, up, downs[version]))
        expected = list(range(1, len(result) + 1))
        if [m.version for m in result] != expected:
            raise MigrationError(f"{self.schema}: migration versions must be 1..N without gaps")
        return result


@dataclass(frozen=True)
class MigrationStatus:
    schema: str
    applied: list[int]
    pending: list[int]


async def _lock(conn: asyncpg.Connection[asyncpg.Record], schema: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('pocdojo.migrate'), hashtext($1))", schema)


async def _applied(conn: asyncpg.Connection[asyncpg.Record], schema: str) -> dict[int, str]:
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.schema_migrations")
    if not exists:
        return {}
    rows = await conn.fetch(f'SELECT version, checksum FROM "{schema}".schema_migrations')  # noqa: S608
    return {int(r["version"]): str(r["checksum"]) for r in rows}


async def status(conn: asyncpg.Connection[asyncpg.Record], service: ServiceSchema) -> MigrationStatus:
    applied = await _applied(conn, service.schema)
    known = [m.version for m in service.migrations()]
    return MigrationStatus(service.schema, sorted(applied), [v for v in known if v not in applied])


async def upgrade(
    conn: asyncpg.Connection[asyncpg.Record], service: ServiceSchema, *, target: int | None = None
) -> list[int]:
    """Apply pending migrations up to `target` (default: all). Returns the versions applied."""
    done: list[int] = []
    for migration in service.migrations():
        if target is not None and migration.version > target:
            break
        async with conn.transaction():
            await _lock(conn, service.schema)
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{service.schema}"')
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{service.schema}".schema_migrations ('
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            applied = await _applied(conn, service.schema)
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"{service.schema}: applied migration {migration.version:04d}_{migration.name} "
                        "was edited after it ran; write a new migration instead"
                    )
                continue
            try:
                await conn.execute(migration.up)
            except asyncpg.PostgresError as exc:
                raise MigrationError(
                    f"{service.schema}: {migration.version:04d}_{migration.name} failed: {exc}"
                ) from exc
            await conn.execute(
                f'INSERT INTO "{service.schema}".schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',  # noqa: S608
                migration.version,
                migration.name,
                migration.checksum,
            )
            done.append(migration.version)
    return done


async def downgrade(conn: asyncpg.Connection[asyncpg.Record], service: ServiceSchema, *, steps: int = 1) -> list[int]:
    """Roll back the newest `steps` applied migrations. Returns the versions rolled back."""
    by_version = {m.version: m for m in service.migrations()}
    undone: list[int] = []
    for _ in range(steps):
        async with conn.transaction():
            await _lock(conn, service.schema)
            applied = await _applied(conn, service.schema)
            if not applied:
                break
            version = max(applied)
            migration = by_version.get(version)
            if migration is None:
                raise MigrationError(f"{service.schema}: applied version {version} has no script here")
            try:
                await conn.execute(migration.down)
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"{service.schema}: rollback of {version:04d} failed: {exc}") from exc
            if version == 1:
                # The first migration's down script drops the schema (and the version table with it).
                await conn.execute(f'DROP TABLE IF EXISTS "{service.schema}".schema_migrations')
            else:
                await conn.execute(
                    f'DELETE FROM "{service.schema}".schema_migrations WHERE version = $1',  # noqa: S608
                    version,
                )
            undone.append(version)
    return undone
