"""The product as a user starts it: `pocdojo dev`, restarts, migrations and tenant creation from the CLI."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest

from runtime.embedded_pg import EmbeddedPostgres, free_port

POCDOJO = str(Path(sys.executable).with_name("pocdojo"))
LOGIN_RE = re.compile(r"demo login: tenant=(\S+) username=(\S+) password=(\S+)")


async def _start_dev(state: Path, port: int) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        POCDOJO,
        "dev",
        "--port",
        str(port),
        "--state-dir",
        str(state),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "POCDOJO_OPERATOR_TOKEN")},
    )
    assert proc.stdout is not None
    banner = ""
    async with asyncio.timeout(120):
        while "Application startup complete" not in banner:
            line = await proc.stdout.readline()
            if not line:
                raise AssertionError(f"pocdojo dev exited early:\n{banner}")
            banner += line.decode()
    return proc, banner


async def _stop(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        await proc.wait()


async def test_dev_server_runs_prints_a_working_login_and_keeps_data(server_dir: Path) -> None:
    state = server_dir / "state"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc, banner = await _start_dev(state, port)
    try:
        match = LOGIN_RE.search(banner)
        assert match, banner
        tenant, username, password = match.groups()
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/readyz")).status_code == 200
            token = await http.post(
                "/v1/auth/token",
                data={"grant_type": "password", "tenant": tenant, "username": username, "password": password},
            )
            assert token.status_code == 200, token.text
            me = await http.get("/v1/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
            assert me.status_code == 200 and me.json()["tenant"] == tenant
            operator = (state / "operator-token").read_text().strip()
            assert (state / "operator-token").stat().st_mode & 0o777 == 0o600
            created = await http.post(
                "/v1/tenants",
                json={
                    "slug": "persisted",
                    "name": "Persisted",
                    "admin_email": "p@persisted.com",
                    "admin_password": "a fine long passphrase",
                },
                headers={"Authorization": f"Bearer {operator}"},
            )
            assert created.status_code == 201
        assert password not in (state / "pg" / "server.log").read_text()
    finally:
        await _stop(proc)
    # Restart: same data, same keys, same login.
    proc, banner = await _start_dev(state, port)
    try:
        async with httpx.AsyncClient(base_url=base) as http:
            again = await http.post(
                "/v1/auth/token",
                data={
                    "grant_type": "password",
                    "tenant": "persisted",
                    "username": "p@persisted.com",
                    "password": "a fine long passphrase",
                },
            )
            assert again.status_code == 200
            # A token issued before the restart still verifies: the signing keys persisted.
            old = await http.get("/v1/auth/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
            assert old.status_code == 200
    finally:
        await _stop(proc)
        EmbeddedPostgres(state / "pg").stop(mode="immediate")


async def _cli(*args: str, state: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        POCDOJO,
        *args,
        "--state-dir",
        str(state),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, **(env or {})},
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_migrate_and_tenants_commands(server_dir: Path) -> None:
    state = server_dir / "state"
    try:
        code, out = await _cli("migrate", "status", state=state)
        assert code == 0, out
        assert "identity: applied [] pending [1]" in out
        code, out = await _cli("migrate", "up", state=state)
        assert code == 0 and "identity: applied [1]" in out, out
        code, out = await _cli("migrate", "up", state=state)
        assert "up to date" in out
        code, out = await _cli("migrate", "down", "--service", "identity", state=state)
        assert code == 0 and "rolled back [1]" in out, out
        code, out = await _cli("migrate", "status", state=state)
        assert "pending [1]" in out
        await _cli("migrate", "up", state=state)
        code, out = await _cli(
            "tenants",
            "create",
            "--slug",
            "cli-co",
            "--name",
            "CLI Co",
            "--admin-email",
            "a@cli.co",
            "--no-self-signup",
            state=state,
            env={"POCDOJO_ADMIN_PASSWORD": "another fine passphrase"},
        )
        assert code == 0, out
        assert '"slug": "cli-co"' in out and '"self_signup": false' in out
        code, out = await _cli(
            "tenants",
            "create",
            "--slug",
            "cli-co",
            "--name",
            "Again",
            "--admin-email",
            "b@cli.co",
            state=state,
            env={"POCDOJO_ADMIN_PASSWORD": "another fine passphrase"},
        )
        assert code == 1 and "already exists" in out
        code, out = await _cli(
            "tenants",
            "create",
            "--slug",
            "weak",
            "--name",
            "Weak",
            "--admin-email",
            "b@weak.co",
            state=state,
            env={"POCDOJO_ADMIN_PASSWORD": "12345678"},
        )
        assert code == 1 and "commonly used" in out
    finally:
        EmbeddedPostgres(state / "pg").stop(mode="immediate")


@pytest.mark.parametrize("action", ["sideways"])
async def test_cli_rejects_unknown_actions(tmp_path: Path, action: str) -> None:
    code, out = await _cli("migrate", action, state=tmp_path)
    assert code == 2 and "invalid choice" in out
