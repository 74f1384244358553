"""`pocdojo db bootstrap`: the once-per-cluster step before migrations, as Aurora's master user can run it
(CREATEROLE and CREATEDB, not a superuser), on its own PostgreSQL server (it sets cluster-wide roles, which
the session's shared server must keep)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from deploy.cli import main
from runtime.bootstrap import with_user
from runtime.embedded_pg import EmbeddedPostgres

MASTER = "aurora_master"
MASTER_PASSWORD = "master-pass-123"


@pytest.fixture
def master_url(server_dir: Path) -> Iterator[str]:
    server = EmbeddedPostgres(server_dir)
    address = server.start()
    try:
        asyncio.run(_create_master(address.dsn()))
        yield with_user(address.dsn(), MASTER, MASTER_PASSWORD, "postgres")
    finally:
        server.stop(mode="immediate")


async def _create_master(superuser_dsn: str) -> None:
    conn = await asyncpg.connect(superuser_dsn)
    try:
        await conn.execute(f"CREATE ROLE {MASTER} LOGIN CREATEROLE CREATEDB PASSWORD '{MASTER_PASSWORD}'")
    finally:
        await conn.close()


async def _facts(url: str) -> tuple[str, str, bool, bool, bool]:
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT current_user, pg_get_userbyid(d.datdba) AS owner, r.rolsuper, r.rolbypassrls,"
            " pg_has_role(current_user, 'pocdojo_app', 'MEMBER') AS app"
            " FROM pg_database d, pg_roles r WHERE d.datname = current_database() AND r.rolname = current_user"
        )
        assert row is not None
        return row["current_user"], row["owner"], row["rolsuper"], row["rolbypassrls"], row["app"]
    finally:
        await conn.close()


def test_bootstrap_as_a_non_superuser_admin_then_migrate(
    master_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POCDOJO_BOOTSTRAP_ADMIN_URL", master_url)
    monkeypatch.setenv("POCDOJO_OWNER_PASSWORD", "owner-pass-1")
    monkeypatch.setenv("POCDOJO_SERVICE_PASSWORD", "service-pass-1")
    assert main(["db", "bootstrap", "--database", "pocdojo"]) == 0
    assert "database pocdojo: created" in capsys.readouterr().out
    owner_url = with_user(master_url, "pocdojo_owner", "owner-pass-1", "pocdojo")
    assert asyncio.run(_facts(owner_url)) == ("pocdojo_owner", "pocdojo_owner", False, False, False)
    service_url = with_user(master_url, "pocdojo_service", "service-pass-1", "pocdojo")
    assert asyncio.run(_facts(service_url)) == ("pocdojo_service", "pocdojo_owner", False, False, True)

    # Again, with a rotated service password: idempotent, and the new password is the one that works.
    monkeypatch.setenv("POCDOJO_SERVICE_PASSWORD", "service-pass-2")
    assert main(["db", "bootstrap", "--database", "pocdojo"]) == 0
    assert "database pocdojo: already there" in capsys.readouterr().out
    assert asyncio.run(_facts(with_user(master_url, "pocdojo_service", "service-pass-2", "pocdojo")))[0] == (
        "pocdojo_service"
    )
    with pytest.raises(asyncpg.InvalidPasswordError):
        asyncio.run(_facts(service_url))

    monkeypatch.setenv("POCDOJO_MIGRATION_DATABASE_URL", owner_url)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["migrate", "up"]) == 0
    assert "identity: applied" in capsys.readouterr().out


def test_bootstrap_names_what_is_missing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("POCDOJO_BOOTSTRAP_ADMIN_URL", raising=False)
    monkeypatch.setenv("POCDOJO_OWNER_PASSWORD", "x")
    monkeypatch.delenv("POCDOJO_SERVICE_PASSWORD", raising=False)
    assert main(["db", "bootstrap"]) == 2
    assert "POCDOJO_BOOTSTRAP_ADMIN_URL, POCDOJO_SERVICE_PASSWORD" in capsys.readouterr().err
