"""The operator's `pocdojo tenants` / `pocdojo users` commands against the real database (DATABASE_URL), through
the installed entry point: recovering a tenant that has no administrator left."""

from __future__ import annotations

import asyncio
import json
import os

import httpx

from deploy.local import DatabaseUrls
from tests.deploy.test_cli import POCDOJO
from tests.identity.harness import GOOD_PASSWORD, IdentityHarness


async def _pocdojo(database: DatabaseUrls, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        POCDOJO,
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("POCDOJO_")},
            "DATABASE_URL": database.service,
        },
    )
    out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    return proc.returncode or 0, out.decode(), err.decode()


def _rows(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


async def _can_sign_in(http: httpx.AsyncClient, tenant: str, email: str, password: str) -> bool:
    response = await http.post(
        "/v1/auth/token",
        data={"grant_type": "password", "tenant": tenant, "username": email, "password": password},
    )
    return response.status_code == 200


async def test_recovering_a_tenant_without_an_administrator(identity: IdentityHarness, database: DatabaseUrls) -> None:
    admin = await identity.create_tenant("acme")
    await identity.add_user(admin, "dev@acme.example.com")

    code, out, err = await _pocdojo(database, "tenants", "list")
    assert code == 0, err
    [acme] = [t for t in _rows(out) if t["slug"] == "acme"]
    assert acme["users"] == 2 and acme["admins"] == 1

    code, out, err = await _pocdojo(database, "users", "list", "--tenant", "acme")
    assert code == 0, err
    assert [(u["email"], u["roles"]) for u in _rows(out)] == [
        ("admin@acme.example.com", ["admin", "member"]),
        ("dev@acme.example.com", ["member"]),
    ]

    # The last administrator cannot be demoted by accident...
    code, out, err = await _pocdojo(
        database, "users", "set-role", "--tenant", "acme", "--email", admin.email, "--role", "member"
    )
    assert code == 1 and "last administrator" in err, (out, err)
    # ...only on purpose: the tenant is then left without one.
    code, out, err = await _pocdojo(
        database, "users", "set-role", "--tenant", "acme", "--email", admin.email, "--role", "member", "--force"
    )
    assert code == 0, err
    assert _rows(out)[0]["roles"] == ["member"]

    # Recovery: a new administrator with a generated one-time password, shown once on stdout.
    code, out, err = await _pocdojo(
        database, "users", "create", "--tenant", "acme", "--email", "ops@acme.example.com", "--role", "admin"
    )
    assert code == 0, err
    [created] = _rows(out)
    assert created["roles"] == ["admin", "member"] and created["tenant"] == "acme"
    one_time = out.rsplit("one-time password", 1)[1].split(": ", 1)[1].strip()
    assert await _can_sign_in(identity.http, "acme", "ops@acme.example.com", one_time)

    # A password read from stdin: never echoed, the old one and its sign-ins no longer work.
    new_password = "a brand new passphrase 7"
    code, out, err = await _pocdojo(
        database,
        "users",
        "reset-password",
        "--tenant",
        "acme",
        "--email",
        admin.email,
        "--password-stdin",
        stdin=new_password + "\n",
    )
    assert code == 0, err
    assert new_password not in out + err and "one-time password" not in out
    assert not await _can_sign_in(identity.http, "acme", admin.email, GOOD_PASSWORD)
    assert await _can_sign_in(identity.http, "acme", admin.email, new_password)
    refreshed = await identity.http.post(
        "/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": admin.refresh_token}
    )
    assert refreshed.status_code == 400, refreshed.text

    code, out, err = await _pocdojo(
        database, "users", "set-role", "--tenant", "acme", "--email", admin.email, "--role", "admin"
    )
    assert code == 0 and _rows(out)[0]["roles"] == ["admin", "member"], err

    # Bad input: precise errors, exit status 1 (refused) or 2 (usage), no traceback.
    code, _, err = await _pocdojo(database, "users", "list", "--tenant", "nope")
    assert code == 1 and "No tenant 'nope'" in err and "Traceback" not in err
    code, _, err = await _pocdojo(
        database, "users", "reset-password", "--tenant", "acme", "--email", "ghost@acme.example.com"
    )
    assert code == 1 and "No user" in err
    code, _, err = await _pocdojo(
        database,
        "users",
        "reset-password",
        "--tenant",
        "acme",
        "--email",
        admin.email,
        "--password-stdin",
        stdin="12345678\n",
    )
    assert code == 1 and "commonly used" in err and "12345678" not in err
    code, _, err = await _pocdojo(database, "users", "set-role", "--tenant", "acme", "--email", admin.email)
    assert code == 2 and "--role" in err
