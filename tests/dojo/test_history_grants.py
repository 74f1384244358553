"""History grants (dojo/replay/grants.py, docs/replay.md): a grant reads its own dojo's history and frames
and nothing else, is stored only as a hash, expires, and can be revoked. Real PostgreSQL, the dojo
service with identity in one process, real y-websocket clients."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.local import DatabaseUrls
from runtime.settings import Settings
from tests.conftest import wait_until
from tests.dojo.conftest import CollabServer, User
from tests.dojo.test_dojos import _create, _joined, _team, _uid
from tests.dojo.test_replay import recorded


@pytest.fixture
async def server(make_settings: Callable[..., Settings]) -> AsyncIterator[CollabServer]:
    server = CollabServer(make_settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def api(server: CollabServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
        yield client


async def _grant(api: httpx.AsyncClient, dojo_id: str, user: User) -> dict[str, Any]:
    response = await api.post(f"/v1/dojos/{dojo_id}/history/grants", headers=user.auth)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/dojos/{dojo_id}/history/grants/{body['id']}"
    return body


def _with(grant: dict[str, Any]) -> dict[str, str]:
    return {"History-Grant": grant["grant"]}


async def _history(api: httpx.AsyncClient, dojo_id: str, grant: dict[str, Any]) -> httpx.Response:
    return await api.get(f"/v1/dojos/{dojo_id}/history", headers=_with(grant))


async def _frames(api: httpx.AsyncClient, dojo_id: str, grant: dict[str, Any]) -> httpx.Response:
    return await api.post(f"/v1/dojos/{dojo_id}/history/frames", json={"t_ms": [0, 10**9]}, headers=_with(grant))


async def _admin_sql(database: DatabaseUrls, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database.admin)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def test_a_grant_reads_its_dojos_history_and_frames_and_nothing_else(
    server: CollabServer, api: httpx.AsyncClient, database: DatabaseUrls
) -> None:
    admin, member, outsider = await _team(server, api, 2)
    dojo = await _create(api, member)
    other = await _create(api, member)
    async with _joined(server, api, dojo, member) as b:
        await b.insert(0, "x", file="a.txt")
        await recorded(server)
    dojo_id = dojo["id"]

    grant = await _grant(api, dojo_id, member)
    assert grant["dojo_id"] == dojo_id and grant["expires_at"].endswith("Z")
    # Only whoever may read the history gets a grant: as the history routes answer.
    refused = await api.post(f"/v1/dojos/{dojo_id}/history/grants", headers=outsider.auth)
    assert refused.status_code == 404, refused.text
    assert (await api.post(f"/v1/dojos/{dojo_id}/history/grants")).status_code == 401

    # Its dojo's history and frames, without any access token (no token to ask for names: null).
    history = await _history(api, dojo_id, grant)
    assert history.status_code == 200, history.text
    assert history.json()["authors"] == [{"user_id": _uid(member), "display_name": None, "color": "#E6194B"}]
    frames = await _frames(api, dojo_id, grant)
    assert frames.status_code == 200, frames.text
    last = json.loads(frames.text.splitlines()[-1])
    assert last["files"] == [{"path": "a.txt", "runs": [{"text": "x", "user_id": _uid(member)}]}]

    # Another dojo (existing or not): 403; any other route: 401 (it wants an access token).
    for dojo_elsewhere in (other["id"], str(uuid.uuid4()), "not-a-dojo"):
        response = await _history(api, dojo_elsewhere, grant)
        assert response.status_code == 403 and response.json()["code"] == "grant_scope", response.text
        assert (await _frames(api, dojo_elsewhere, grant)).status_code == 403
    for method, path in (
        ("GET", f"/v1/dojos/{dojo_id}/state"),
        ("GET", f"/v1/dojos/{dojo_id}/blame"),
        ("GET", f"/v1/dojos/{dojo_id}"),
        ("POST", f"/v1/dojos/{dojo_id}/history/grants"),
        ("POST", f"/v1/dojos/{dojo_id}/messages"),
    ):
        response = await api.request(method, path, headers=_with(grant), json={"text": "hi"})
        assert response.status_code == 401, (path, response.text)
    # Both credentials at once: 400; a forged or malformed grant: 401.
    both = await api.get(f"/v1/dojos/{dojo_id}/history", headers={**_with(grant), **member.auth})
    assert both.status_code == 400, both.text
    forged = {**grant, "grant": grant["grant"][:-2] + ("AA" if not grant["grant"].endswith("AA") else "BB")}
    for bad in (forged, {"grant": "nope"}, {"grant": f"dhg1.{admin.tenant_id}.{grant['id']}.x"}):
        response = await _history(api, dojo_id, bad)
        assert response.status_code == 401 and response.json()["code"] == "invalid_grant", response.text
        assert response.headers["www-authenticate"].startswith("History-Grant")

    # History off: the same 409 as with a token.
    assert (await api.put("/v1/dojos/settings/history", json={"enabled": False}, headers=admin.auth)).status_code == 200
    assert (await _history(api, dojo_id, grant)).status_code == 409
    assert (await api.put("/v1/dojos/settings/history", json={"enabled": True}, headers=admin.auth)).status_code == 200

    # Only the secret's SHA-256 is stored.
    rows = await _admin_sql(database, "SELECT * FROM dojo.history_grants WHERE id = $1", uuid.UUID(grant["id"]))
    assert len(rows) == 1
    assert bytes(rows[0]["secret_hash"]) == hashlib.sha256(grant["grant"].encode()).digest()
    assert grant["grant"] not in repr(dict(rows[0]))
    assert (str(rows[0]["dojo_id"]), str(rows[0]["user_id"])) == (dojo_id, _uid(member))


async def test_an_expired_or_revoked_grant_is_refused(
    server: CollabServer, api: httpx.AsyncClient, database: DatabaseUrls
) -> None:
    admin, member = await _team(server, api, 1)
    dojo = await _create(api, member)
    dojo_id = dojo["id"]
    # A tenant administrator who never joined may grant too.
    expiring, revoked = await _grant(api, dojo_id, admin), await _grant(api, dojo_id, member)
    assert (await _history(api, dojo_id, expiring)).status_code == 200

    await _admin_sql(
        database,
        "UPDATE dojo.history_grants SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(expiring["id"]),
    )
    response = await _history(api, dojo_id, expiring)
    assert response.status_code == 401 and "expired" in response.json()["detail"], response.text
    assert (await _frames(api, dojo_id, expiring)).status_code == 401
    left = await _admin_sql(database, "SELECT id FROM dojo.history_grants WHERE id = $1", uuid.UUID(expiring["id"]))
    assert left == []  # deleted once met

    # Revoked with the grant itself (only for its own id and dojo); then refused.
    path = f"/v1/dojos/{dojo_id}/history/grants/{revoked['id']}"
    assert (await api.delete(path)).status_code == 422  # no grant sent
    assert (
        await api.delete(f"/v1/dojos/{dojo_id}/history/grants/{uuid.uuid4()}", headers=_with(revoked))
    ).status_code == 403
    assert (await api.delete(path, headers=_with(revoked))).status_code == 204
    response = await _history(api, dojo_id, revoked)
    assert response.status_code == 401 and response.json()["code"] == "invalid_grant", response.text
    assert (await api.delete(path, headers=_with(revoked))).status_code == 401


async def test_a_grant_reads_with_its_users_current_rights(server: CollabServer, api: httpx.AsyncClient) -> None:
    admin, member = await _team(server, api, 1)  # the first user of a tenant is its admin
    dojo = await _create(api, member)
    grant = await _grant(api, dojo["id"], member)
    assert (await _history(api, dojo["id"], grant)).status_code == 200
    # The grant's user is gone: so is what the grant may read.
    assert (await api.delete(f"/v1/users/{_uid(member)}", headers=admin.auth)).status_code == 204

    async def refused() -> bool:
        response = await _history(api, dojo["id"], grant)
        return response.status_code == 401 and response.json()["code"] == "invalid_grant"

    await wait_until(refused, within=15)
