"""The product as a user starts it: `pocdojo dev`, restarts, migrations and tenant creation from the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.services import schemas
from runtime.embedded_pg import EmbeddedPostgres
from runtime.ports import free_port
from tests.conftest import wait_until

POCDOJO = str(Path(sys.executable).with_name("pocdojo"))
REPO = Path(__file__).resolve().parents[2]
LOGIN_RE = re.compile(r"demo login: tenant=(\S+) username=(\S+) password=(\S+)")


async def _start_dev(
    state: Path, port: int, env: dict[str, str] | None = None
) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        POCDOJO,
        "dev",
        "--port",
        str(port),
        "--state-dir",
        str(state),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={
            **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "POCDOJO_OPERATOR_TOKEN")},
            **(env or {}),
        },
    )
    assert proc.stdout is not None
    banner = ""
    async with asyncio.timeout(120):
        while "Uvicorn running on" not in banner:  # listening (startup completes just before the bind)
            line = await proc.stdout.readline()
            if not line:
                raise AssertionError(f"pocdojo dev exited early:\n{banner}")
            banner += line.decode()
    return proc, banner


async def _wait_for_samples(http: httpx.AsyncClient, auth: dict[str, str]) -> list[dict[str, Any]]:
    """The demo tenant's sample POCs, once they and the sample dojo are there."""
    found: list[dict[str, Any]] = []

    async def seeded() -> bool:
        nonlocal found
        found = (await http.get("/v1/pocs", params={"limit": 100}, headers=auth)).json()["items"]
        dojos = (await http.get("/v1/dojos", params={"status": "ended"}, headers=auth)).json()["items"]
        return len(found) == 10 and len(dojos) == 1

    await wait_until(seeded, within=60, interval=0.2)
    return found


async def _stop(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        await proc.wait()


@asynccontextmanager
async def signed_in_dev(server_dir: Path) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A fresh `pocdojo dev` signed in as its demo user, with one POC ("Integração PIX") of theirs: the
    client and the auth headers. The server and its PostgreSQL are stopped at the end, whatever happens."""
    state = server_dir / "state"
    port = free_port()
    proc, banner = await _start_dev(state, port)
    assert proc.stdout is not None
    drain = asyncio.create_task(proc.stdout.read())  # the server's logs: never let the pipe fill
    try:
        match = LOGIN_RE.search(banner)
        assert match, banner
        tenant, username, password = match.groups()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            token = await http.post(
                "/v1/auth/token",
                data={"grant_type": "password", "tenant": tenant, "username": username, "password": password},
            )
            auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
            poc = {"name": "Integração PIX", "github_url": "https://github.com/acme/pix", "language": "go", "tags": []}
            assert (await http.post("/v1/pocs", json=poc, headers=auth)).status_code == 201
            yield http, auth
    finally:
        await _stop(proc)
        await drain
        EmbeddedPostgres(state / "pg").stop(mode="immediate")


async def test_dev_server_runs_prints_a_working_login_and_keeps_data(server_dir: Path) -> None:
    state = server_dir / "state"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc, banner = await _start_dev(state, port)
    assert proc.stdout is not None
    output = asyncio.create_task(proc.stdout.read())  # drained as it comes: a full pipe would block the server
    try:
        match = LOGIN_RE.search(banner)
        assert match, banner
        tenant, username, password = match.groups()
        async with httpx.AsyncClient(base_url=base) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200 and ready.headers["x-content-type-options"] == "nosniff"
            token = await http.post(
                "/v1/auth/token",
                data={"grant_type": "password", "tenant": tenant, "username": username, "password": password},
            )
            assert token.status_code == 200, token.text
            auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
            me = await http.get("/v1/auth/me", headers=auth)
            assert me.status_code == 200 and me.json()["tenant"] == tenant
            # The demo tenant starts with sample POCs and an ended sample dojo (created once the services run).
            pocs = await _wait_for_samples(http, auth)
            assert len({p["language"] for p in pocs}) >= 5 and len({t for p in pocs for t in p["tags"]}) >= 10
            assert any("ç" in p["name"] or "ã" in p["name"] for p in pocs)  # Portuguese names
            [dojo] = (await http.get("/v1/dojos", headers=auth)).json()["items"]
            assert dojo["status"] == "ended"
            snapshot = (await http.get(f"/v1/dojos/{dojo['id']}", headers=auth)).json()["snapshot"]
            assert "def pontos" in snapshot["files"]["boliche.py"]
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
    lines = [json.loads(line) for line in (await output).decode().splitlines() if line.startswith("{")]
    assert "\x1b[" not in json.dumps(lines) and not any("color_message" in line for line in lines)
    readyz = [line for line in lines if line["message"] == "request" and line["route"] == "/readyz"]
    assert readyz and {"method": "GET", "status": 200, "service": "identity"}.items() <= readyz[0].items(), readyz
    assert [line["pocs"] for line in lines if line["message"] == "demo tenant sample data created"] == [10]
    # Restart: same data, same keys, same login; logs in the text format this time.
    proc, banner = await _start_dev(state, port, {"POCDOJO_LOG_JSON": "false"})
    assert proc.stdout is not None
    output = asyncio.create_task(proc.stdout.read())
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
            old = await http.get("/v1/auth/me", headers=auth)
            assert old.status_code == 200
            # The samples are not created twice.
            pocs = (await http.get("/v1/pocs", params={"limit": 100}, headers=auth)).json()["items"]
            assert len(pocs) == 10
            assert len((await http.get("/v1/dojos", headers=auth)).json()["items"]) == 1
    finally:
        await _stop(proc)
        EmbeddedPostgres(state / "pg").stop(mode="immediate")
    text = (await output).decode()
    access = re.search(r" INFO pocdojo\.http: request (.*route=/v1/auth/token.*)", text)
    assert access, text
    fields = dict(pair.split("=", 1) for pair in access.group(1).split())
    assert fields["service"] == "identity" and fields["method"] == "POST" and fields["status"] == "200"
    assert float(fields["duration_ms"]) >= 0
    assert "\x1b[" not in text and "a fine long passphrase" not in text


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
    identity = next(schema for schema in schemas() if schema.schema == "identity")
    versions = [migration.version for migration in identity.migrations()]
    try:
        code, out = await _cli("migrate", "status", state=state)
        assert code == 0, out
        assert f"identity: applied [] pending {versions}" in out
        code, out = await _cli("migrate", "up", state=state)
        assert code == 0 and f"identity: applied {versions}" in out, out
        code, out = await _cli("migrate", "up", state=state)
        assert "up to date" in out
        code, out = await _cli("migrate", "down", "--service", "identity", state=state)
        assert code == 0 and f"rolled back [{versions[-1]}]" in out, out
        code, out = await _cli("migrate", "status", state=state)
        assert f"pending [{versions[-1]}]" in out
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


async def test_serve_runs_one_service_from_environment_settings(database, keys_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from identity.keys import KeyRing

    ring = KeyRing.load_or_create(keys_dir / "keys")
    port = free_port()
    metrics_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("POCDOJO_")},
        "DATABASE_URL": database.service,
        "POCDOJO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "POCDOJO_SIGNING_KEYS": ring.active.to_pem().decode(),
        "POCDOJO_OPERATOR_TOKEN": "serve-operator-token",
        "POCDOJO_METRICS_PORT": str(metrics_port),
    }
    proc = await asyncio.create_subprocess_exec(
        POCDOJO,
        "serve",
        "identity",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:

            async def ready() -> bool:
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False  # not listening yet

            await wait_until(ready, within=10)
            created = await http.post(
                "/v1/tenants",
                json={
                    "slug": "served",
                    "name": "Served",
                    "admin_email": "a@served.com",
                    "admin_password": "served passphrase ok",
                },
                headers={"Authorization": "Bearer serve-operator-token"},
            )
            assert created.status_code == 201
            jwks = (await http.get("/.well-known/jwks.json")).json()
            assert [k["kid"] for k in jwks["keys"]] == [ring.active.kid]
            # Production: the public port has no /metrics (no token is set); the internal port serves them.
            public = await http.get("/metrics")
            assert public.status_code == 404 and "pocdojo_http_requests_total" not in public.text
            internal = await http.get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert internal.status_code == 200
            assert 'route="/v1/tenants",service="identity",status="201"' in internal.text
    finally:
        await _stop(proc)
    out = (await proc.stdout.read()).decode() if proc.stdout else ""  # type: ignore[union-attr]
    assert "serve-operator-token" not in out
    assert '"level":"INFO"' in out


async def test_make_run_on_a_busy_port_stops_before_the_banner_with_the_fix(server_dir: Path) -> None:
    """`make run PORT=<busy>`: the Makefile passes the port through, and `pocdojo dev` refuses it before the
    database starts or the banner prints, naming a free port to use instead."""
    state = server_dir / "state"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = await asyncio.create_subprocess_exec(
            "make",
            "-s",
            "run",
            f"PORT={port}",
            f"STATE={state}",
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        async with asyncio.timeout(60):
            out = (await proc.communicate())[0].decode()
    assert proc.returncode != 0
    match = re.search(rf"error: port {port} is busy on 127\.0\.0\.1: run `make run PORT=(\d+)`", out)
    assert match, out
    with socket.socket() as free:
        free.bind(("127.0.0.1", int(match.group(1))))  # the port it suggests is free
    assert "demo login" not in out and "POC Dojo is starting" not in out
    assert not (state / "pg").exists()
