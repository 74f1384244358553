"""Dojos on one node: the REST contract, roles enforced on live y-websocket clients, randori,
kick, lobby/lock, end with snapshot, and chat."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from pycrdt import Doc, Map, Text
from websockets.asyncio.client import connect

from crdt import CloseCode
from dojo.services import services_of as dojo_services
from identity.services import services_of as identity_services
from runtime.settings import Settings
from tests.conftest import wait_until
from tests.dojo.conftest import CollabServer, User
from tests.dojo.yclient import closed_with
from tests.jsclient import JsClient

STATUS_TTL = 0.5
"""How long the dojo service trusts what identity said about a user (deleted accounts, below)."""


@pytest.fixture
async def dojo_server(make_settings: Callable[..., Settings]) -> AsyncIterator[CollabServer]:
    server = CollabServer(
        make_settings,
        overrides={
            "dojo_randori_min_seconds": 0.5,
            "dojo_chat_messages_per_minute": 5,
            "dojo_chat_max_chars": 200,
            "auth_status_ttl_seconds": STATUS_TTL,
        },
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def api(dojo_server: CollabServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=dojo_server.base, timeout=30) as client:
        yield client


async def _team(server: CollabServer, http: httpx.AsyncClient, size: int) -> list[User]:
    host = await server.user(http)
    members = [
        await server.user(http, tenant=host.tenant, email=f"m{i}@{host.tenant}.example.com") for i in range(size)
    ]
    return [host, *members]


async def _create(http: httpx.AsyncClient, host: User, **body: Any) -> dict[str, Any]:
    response = await http.post("/v1/dojos", json={"title": "Kata", **body}, headers=host.auth)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _ticket(http: httpx.AsyncClient, dojo: dict[str, Any], user: User) -> dict[str, Any]:
    response = await http.post(f"/v1/dojos/{dojo['id']}/tickets", headers=user.auth)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@contextlib.asynccontextmanager
async def _joined(
    server: CollabServer, http: httpx.AsyncClient, dojo: dict[str, Any], user: User
) -> AsyncIterator[JsClient]:
    """A y-websocket client of `user` in the dojo, joined through a ticket and synced."""
    async with JsClient.start(
        server.ws_url, dojo["id"], params={"ticket": (await _ticket(http, dojo, user))["ticket"]}
    ) as client:
        await client.wait_synced()
        yield client


def _uid(user: User) -> str:
    import jwt

    sub: str = jwt.decode(user.access_token, options={"verify_signature": False})["sub"]
    return sub


async def _role(http: httpx.AsyncClient, dojo: dict[str, Any], host: User, user: User, role: str) -> None:
    response = await http.put(
        f"/v1/dojos/{dojo['id']}/participants/{_uid(user)}/role", json={"role": role}, headers=host.auth
    )
    assert response.status_code == 200, response.text


def _closed(client: JsClient) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event.get("event") == "connectionClose"


async def test_lifecycle_and_validation(dojo_server: CollabServer, api: httpx.AsyncClient) -> None:
    host, member = await _team(dojo_server, api, 1)
    dojo = await _create(api, host, language="Python", settings={"randori_seconds": None})
    assert dojo["status"] == "active" and dojo["host_id"] == _uid(host)
    assert [(p["user_id"], p["role"], p["host"]) for p in dojo["participants"]] == [(_uid(host), "driver", True)]

    bad = await api.post("/v1/dojos", json={"title": ""}, headers=host.auth)
    assert bad.status_code == 422
    bad = await api.post("/v1/dojos", json={"title": "x", "settings": {"randori_seconds": 99999}}, headers=host.auth)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "settings.randori_seconds"
    assert "seconds" in bad.json()["errors"][0]["message"]
    assert (await api.post("/v1/dojos", json={"title": "x", "bogus": 1}, headers=host.auth)).status_code == 422
    assert (await api.post("/v1/dojos", json={"title": "x"})).status_code == 401

    # Only the host ends it; the members see it; other tenants do not.
    assert (await api.post(f"/v1/dojos/{dojo['id']}/end", headers=member.auth)).status_code == 403
    outsider = await dojo_server.user(api)
    assert (await api.get(f"/v1/dojos/{dojo['id']}", headers=outsider.auth)).status_code == 404
    assert (await api.post(f"/v1/dojos/{dojo['id']}/tickets", headers=outsider.auth)).status_code == 404
    assert (await api.get(f"/v1/dojos/{uuid.uuid4()}", headers=host.auth)).status_code == 404
    assert (await api.get("/v1/dojos/not-a-uuid", headers=host.auth)).status_code == 404
    seen = await api.get(f"/v1/dojos/{dojo['id']}", headers=member.auth)
    assert seen.status_code == 200 and seen.json()["title"] == "Kata"
    assert (await api.get("/v1/dojos", headers=outsider.auth)).json()["items"] == []

    # Paging through the list, newest first, with a cursor.
    more = [await _create(api, host, title=f"Kata {i}") for i in range(3)]
    page = (await api.get("/v1/dojos?limit=2", headers=host.auth)).json()
    assert [d["id"] for d in page["items"]] == [more[2]["id"], more[1]["id"]]
    page2 = (await api.get(f"/v1/dojos?limit=2&cursor={page['next_cursor']}", headers=host.auth)).json()
    assert [d["id"] for d in page2["items"]] == [more[0]["id"], dojo["id"]]
    assert (await api.get("/v1/dojos?cursor=@@@", headers=host.auth)).status_code == 422

    ended = await api.post(f"/v1/dojos/{dojo['id']}/end", headers=host.auth)
    assert ended.status_code == 200 and ended.json()["status"] == "ended"
    assert ended.json()["snapshot"] == {"files": {}}
    again = await api.post(f"/v1/dojos/{dojo['id']}/end", headers=host.auth)
    assert again.status_code == 409 and again.json()["type"].endswith("dojo-ended")
    assert (await api.post(f"/v1/dojos/{dojo['id']}/tickets", headers=member.auth)).status_code == 409
    history = (await api.get("/v1/dojos?status=ended", headers=host.auth)).json()["items"]
    assert [d["id"] for d in history] == [dojo["id"]]


async def test_roles_apply_to_open_connections(dojo_server: CollabServer, api: httpx.AsyncClient) -> None:
    host, member = await _team(dojo_server, api, 1)
    dojo = await _create(api, host)
    url = dojo_server.ws_url
    host_ticket, member_ticket = await _ticket(api, dojo, host), await _ticket(api, dojo, member)
    assert member_ticket["role"] == "navigator" and member_ticket["can_edit"] is True
    assert member_ticket["collab_url"] == url and member_ticket["signal_url"].endswith("/v1/signal")
    async with (
        JsClient.start(url, dojo["id"], params={"ticket": host_ticket["ticket"]}) as a,
        JsClient.start(url, dojo["id"], params={"ticket": member_ticket["ticket"]}) as b,
    ):
        await a.wait_synced()
        await b.wait_synced()
        await b.insert(0, "navigator types\n", file="main.py")
        await a.wait_text("navigator types\n", file="main.py")

        # Demoted while connected: the very next edits are dropped.
        await _role(api, dojo, host, member, "observer")
        await b.insert(0, "observer ", file="main.py")
        await a.insert(0, "# host\n", file="other.py")
        await b.wait_text("# host\n", file="other.py")  # b's edit went first, and was dropped
        await asyncio.sleep(0.3)  # waits out a negative: no broadcast of the dropped edit may arrive
        assert await a.get_text(file="main.py") == "navigator types\n"

        # Promoted again: edits apply again (a fresh file, since b's local copy diverged).
        await _role(api, dojo, host, member, "navigator")
        await b.insert(0, "back", file="notes.md")
        await a.wait_text("back", file="notes.md")
        assert b.events and not any(e.get("event") == "connectionClose" for e in b.events)


def _files(state: bytes) -> dict[str, str]:
    doc: Doc[Any] = Doc()
    doc.apply_update(state)
    return {path: str(text) for path, text in doc.get("files", type=Map).items() if isinstance(text, Text)}


async def test_a_rights_change_resyncs_the_connection(dojo_server: CollabServer, api: httpx.AsyncClient) -> None:
    """Turned observer, a y-websocket client's edits are dropped by the room; turned editor again, the room
    resyncs it (its step1), so the client's next edits apply and its document ends equal to the server's."""
    host, member = await _team(dojo_server, api, 1)
    dojo = await _create(api, host)
    manager = dojo_services(dojo_server.dojo_app).manager
    key = f"{host.tenant_id}/{dojo['id']}"

    def server_files() -> dict[str, str]:
        return _files(manager.get(key).state_update())

    async def dropped() -> bool:
        return int(manager.get(key).stats.readonly_dropped) >= 1

    async with _joined(dojo_server, api, dojo, host) as a, _joined(dojo_server, api, dojo, member) as b:
        await _role(api, dojo, host, member, "observer")
        await b.insert(0, "while observer", file="main.py")
        await wait_until(dropped)
        assert server_files() == {}
        await a.insert(0, "host", file="host.py")
        await b.wait_text("host", file="host.py")
        assert "main.py" not in server_files()

        await _role(api, dojo, host, member, "navigator")
        await b.insert(0, "editor again", file="notes.md")
        await a.wait_text("editor again", file="notes.md")

        async def equal() -> bool:
            return _files(await b.encode_state()) == server_files() == _files(await a.encode_state())

        await wait_until(equal)
        # The edit made while read-only never reached anyone then; the resync brought it in (the
        # client cannot take it back), and every copy is equal.
        assert server_files() == {"main.py": "while observer", "host.py": "host", "notes.md": "editor again"}


async def test_read_only_editors_are_told_why_once_per_change_and_stay_connected(
    dojo_server: CollabServer, api: httpx.AsyncClient
) -> None:
    """A dropped edit gets the y-websocket auth message (permission-denied + a reason the app shows) once per
    reason while the connection stays read-only, not once per frame; the socket stays open, and the dojo
    state says who may edit (`participants[].can_edit`)."""
    host, member = await _team(dojo_server, api, 1)
    dojo = await _create(api, host)
    room = dojo_services(dojo_server.dojo_app).manager

    def dropped(at_least: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return int(room.get(f"{host.tenant_id}/{dojo['id']}").stats.readonly_dropped) >= at_least

        return check

    def told(client: JsClient, times: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(denials(client)) == times

        return check

    def denials(client: JsClient) -> list[str]:
        return [e["reason"] for e in client.events if e.get("event") == "permissionDenied"]

    async with _joined(dojo_server, api, dojo, host) as a, _joined(dojo_server, api, dojo, member) as b:
        await _role(api, dojo, host, member, "observer")
        for n in range(3):
            await b.insert(0, f"dropped {n} ", file="main.py")
        await wait_until(dropped(3))
        await b.wait_event(lambda e: e.get("event") == "permissionDenied")
        assert denials(b) == ["observer"] and denials(a) == []
        state = (await api.get(f"/v1/dojos/{dojo['id']}", headers=host.auth)).json()
        assert {p["user_id"]: p["can_edit"] for p in state["participants"]} == {_uid(host): True, _uid(member): False}

        # Editor again: edits apply; observer again: told again (a new state), still once.
        await _role(api, dojo, host, member, "navigator")
        await b.insert(0, "back", file="notes.md")
        await a.wait_text("back", file="notes.md")
        await _role(api, dojo, host, member, "observer")
        await b.insert(0, "dropped again", file="other.md")
        await b.insert(0, "and again", file="other.md")
        await wait_until(dropped(5))
        await wait_until(told(b, 2))

        # Randori: a navigator who is not the driver is told so.
        await _role(api, dojo, host, member, "navigator")
        started = await api.patch(f"/v1/dojos/{dojo['id']}/settings", json={"randori_seconds": 60}, headers=host.auth)
        assert started.status_code == 200 and started.json()["randori"]["driver_id"] == _uid(host)
        await b.insert(0, "not mine", file="randori.md")
        await wait_until(told(b, 3))
        assert denials(b) == ["observer", "observer", "not the driver"]
        assert not any(e.get("event") == "connectionClose" for e in b.events)
        await a.insert(0, "still connected", file="end.md")
        await b.wait_text("still connected", file="end.md")


async def test_observer_edits_never_reach_anyone(dojo_server: CollabServer, api: httpx.AsyncClient) -> None:
    host, watcher = await _team(dojo_server, api, 1)
    dojo = await _create(api, host)
    await _ticket(api, dojo, watcher)
    await _role(api, dojo, host, watcher, "observer")
    ticket = await _ticket(api, dojo, watcher)
    assert ticket["role"] == "observer" and ticket["can_edit"] is False
    url = dojo_server.ws_url
    async with (
        JsClient.start(url, dojo["id"], params={"ticket": (await _ticket(api, dojo, host))["ticket"]}) as a,
        JsClient.start(url, dojo["id"], params={"ticket": ticket["ticket"]}) as o,
    ):
        await a.wait_synced()
        await o.wait_synced()
        await o.insert(0, "should vanish", file="notes.md")
        await a.insert(0, "def score(): ...", file="kata.py")
        await o.wait_text("def score(): ...", file="kata.py")
        await asyncio.sleep(0.3)  # waits out a negative: no broadcast of the dropped edit may arrive
        assert await a.get_text(file="notes.md") == ""
    content = await api.get(f"/v1/dojos/{dojo['id']}", headers=host.auth)
    assert content.status_code == 200
    ended = (await api.post(f"/v1/dojos/{dojo['id']}/end", headers=host.auth)).json()
    assert ended["snapshot"] == {"files": {"kata.py": "def score(): ..."}}


async def test_randori_only_the_driver_edits_and_the_role_rotates(
    dojo_server: CollabServer, api: httpx.AsyncClient
) -> None:
    host, second = await _team(dojo_server, api, 1)
    dojo = await _create(api, host)
    async with _joined(dojo_server, api, dojo, host) as a, _joined(dojo_server, api, dojo, second) as b:
        # Randori on, 3 s per turn: the host drives first.
        configured = await api.patch(f"/v1/dojos/{dojo['id']}/settings", json={"randori_seconds": 3}, headers=host.auth)
        assert configured.status_code == 200, configured.text
        state = configured.json()["randori"]
        assert state["enabled"] and state["driver_id"] == _uid(host) and state["interval_seconds"] == 3
        await b.insert(0, "navigator-1 ", file="nav.txt")
        await a.insert(0, "driver-1 ", file="drv.txt")
        await b.wait_text("driver-1 ", file="drv.txt")
        await asyncio.sleep(0.2)  # waits out a negative: no broadcast of the dropped edit may arrive
        assert await a.get_text(file="nav.txt") == ""

        # The timer fires: the other participant drives now.
        now: dict[str, Any] = {}

        async def second_drives() -> bool:
            now.update((await api.get(f"/v1/dojos/{dojo['id']}", headers=host.auth)).json()["randori"])
            return bool(now["driver_id"] == _uid(second))

        await wait_until(second_drives, within=10)
        assert now["round"] >= 1
        await b.insert(0, "driver-2 ", file="g.txt")
        await a.wait_text("driver-2 ", file="g.txt")
        await a.insert(0, "navigator-2 ", file="h.txt")
        await asyncio.sleep(0.3)  # waits out a negative: no broadcast of the dropped edit may arrive
        assert await b.get_text(file="h.txt") == ""

        # Randori off: both navigators edit again.
        off = await api.patch(f"/v1/dojos/{dojo['id']}/settings", json={"randori_seconds": None}, headers=host.auth)
        assert off.status_code == 200 and off.json()["randori"]["enabled"] is False
        await a.insert(0, "free", file="i.txt")
        await b.wait_text("free", file="i.txt")


async def test_kick_closes_the_socket_and_tickets_stop_working(
    dojo_server: CollabServer, api: httpx.AsyncClient
) -> None:
    host, member = await _team(dojo_server, api, 1)
    dojo = await _create(api, host)
    spare = await _ticket(api, dojo, member)  # a ticket the member still holds after the kick
    url = dojo_server.ws_url
    async with JsClient.start(url, dojo["id"], params={"ticket": (await _ticket(api, dojo, member))["ticket"]}) as b:
        await b.wait_synced()
        kicked = await api.post(f"/v1/dojos/{dojo['id']}/participants/{_uid(member)}/kick", headers=host.auth)
        assert kicked.status_code == 200, kicked.text
        closed = await b.wait_event(_closed(b), within=5.0)
        assert closed["code"] == CloseCode.FORBIDDEN
        denied = await b.wait_event(lambda e: e.get("event") == "permissionDenied", within=5.0)
        assert "removed" in denied["reason"]
    async with JsClient.start(url, dojo["id"], params={"ticket": spare["ticket"]}) as again:
        closed = await again.wait_event(_closed(again), within=5.0)
        assert closed["code"] == CloseCode.FORBIDDEN
    refused = await api.post(f"/v1/dojos/{dojo['id']}/tickets", headers=member.auth)
    assert refused.status_code == 403 and "removed" in refused.json()["detail"]
    assert _uid(member) not in [p["user_id"] for p in kicked.json()["participants"]]
    # Only the host moderates; the host cannot kick themselves.
    assert (
        await api.post(f"/v1/dojos/{dojo['id']}/participants/{_uid(host)}/kick", headers=member.auth)
    ).status_code == 403
    assert (
        await api.post(f"/v1/dojos/{dojo['id']}/participants/{_uid(host)}/kick", headers=host.auth)
    ).status_code == 409


async def test_lock_and_lobby(dojo_server: CollabServer, api: httpx.AsyncClient) -> None:
    host, early, late, waiting = await _team(dojo_server, api, 3)
    dojo = await _create(api, host)
    await _ticket(api, dojo, early)
    assert (
        await api.patch(f"/v1/dojos/{dojo['id']}/settings", json={"locked": True}, headers=early.auth)
    ).status_code == 403
    locked = await api.patch(f"/v1/dojos/{dojo['id']}/settings", json={"locked": True}, headers=host.auth)
    assert locked.status_code == 200 and locked.json()["settings"]["locked"] is True
    refused = await api.post(f"/v1/dojos/{dojo['id']}/tickets", headers=late.auth)
    assert refused.status_code == 403 and "locked" in refused.json()["detail"]
    # A bearer connection of a newcomer is refused too; one who joined before keeps access.
    async with connect(f"{dojo_server.ws_url}/{dojo['id']}", additional_headers=late.auth, compression=None) as ws:
        assert await closed_with(ws) == CloseCode.FORBIDDEN
    early_ticket = (await _ticket(api, dojo, early))["ticket"]
    async with JsClient.start(dojo_server.ws_url, dojo["id"], params={"ticket": early_ticket}) as ok:
        await ok.wait_synced()

    await api.patch(f"/v1/dojos/{dojo['id']}/settings", json={"locked": False, "lobby": True}, headers=host.auth)
    lobby = await api.post(f"/v1/dojos/{dojo['id']}/tickets", headers=waiting.auth)
    assert lobby.status_code == 403 and lobby.json()["type"].endswith("dojo-lobby")
    listed = (await api.get(f"/v1/dojos/{dojo['id']}/participants", headers=host.auth)).json()["items"]
    assert {p["user_id"]: p["status"] for p in listed}[_uid(waiting)] == "waiting"
    assert (await api.post(f"/v1/dojos/{dojo['id']}/tickets", headers=waiting.auth)).status_code == 403
    admitted = await api.post(f"/v1/dojos/{dojo['id']}/participants/{_uid(waiting)}/admit", headers=host.auth)
    assert admitted.status_code == 200
    assert (await api.post(f"/v1/dojos/{dojo['id']}/tickets", headers=waiting.auth)).status_code == 201
    assert (
        await api.post(f"/v1/dojos/{dojo['id']}/participants/{_uid(waiting)}/admit", headers=host.auth)
    ).status_code == 409
    bad = await api.patch(f"/v1/dojos/{dojo['id']}/settings", json={}, headers=host.auth)
    assert bad.status_code == 422
    bad = await api.patch(f"/v1/dojos/{dojo['id']}/settings", json={"locked": None}, headers=host.auth)
    assert bad.status_code == 422


async def test_end_closes_everything_and_snapshots_every_file(
    dojo_server: CollabServer, api: httpx.AsyncClient
) -> None:
    host, member = await _team(dojo_server, api, 1)
    dojo = await _create(api, host)
    async with _joined(dojo_server, api, dojo, host) as a, _joined(dojo_server, api, dojo, member) as b:
        await a.insert(0, "def add(a, b):\n    return a + b\n", file="src/calc.py")
        await b.insert(0, "from calc import add\n\nassert add(1, 2) == 3\n", file="tests/test_calc.py")
        await b.insert(0, "# Calculadora — ação!\n", file="README.md")
        await a.delete(0, 4, file="src/calc.py")
        await a.insert(0, "def", file="src/calc.py")
        for path in ("src/calc.py", "tests/test_calc.py", "README.md"):
            await b.wait_text(await a.get_text(file=path), file=path)
            await a.wait_text(await b.get_text(file=path), file=path)
        final = {path: await a.get_text(file=path) for path in ("README.md", "src/calc.py", "tests/test_calc.py")}
        ended = await api.post(f"/v1/dojos/{dojo['id']}/end", headers=host.auth)
        assert ended.status_code == 200, ended.text
        for client in (a, b):
            closed = await client.wait_event(_closed(client), within=2.0)
            assert closed["code"] == CloseCode.NOT_FOUND
        assert ended.json()["snapshot"] == {"files": final}
    stored = (await api.get(f"/v1/dojos/{dojo['id']}", headers=member.auth)).json()
    assert stored["status"] == "ended" and stored["snapshot"] == {"files": final}
    # An ended dojo refuses connections (bearer and old tickets alike).
    url = dojo_server.ws_url
    async with JsClient.start(url, dojo["id"], params={"ticket": "x"}) as late:
        assert (await late.wait_event(_closed(late)))["code"] == CloseCode.UNAUTHORIZED
    async with connect(f"{url}/{dojo['id']}", additional_headers=member.auth, compression=None) as ws:
        assert await closed_with(ws) == CloseCode.NOT_FOUND


async def test_a_tenant_admin_hands_the_host_role_over_when_the_host_is_gone(
    dojo_server: CollabServer, api: httpx.AsyncClient
) -> None:
    admin, host, member = await _team(dojo_server, api, 2)  # the first user of a tenant is its admin
    dojo = await _create(api, host)
    spare = await _ticket(api, dojo, host)  # a ticket the host still holds when the account goes
    await _ticket(api, dojo, member)
    url = f"/v1/dojos/{dojo['id']}/host"
    assert (await api.post(url, json={"user_id": _uid(member)}, headers=member.auth)).status_code == 403

    assert (await api.delete(f"/v1/users/{_uid(host)}", headers=admin.auth)).status_code == 204

    async def host_refused() -> bool:
        return (await api.get(f"/v1/dojos/{dojo['id']}", headers=host.auth)).status_code == 401

    await wait_until(host_refused, within=10 * STATUS_TTL + 2)
    # The gone host's ticket opens nothing any more, though it has not expired.
    async with JsClient.start(dojo_server.ws_url, dojo["id"], params={"ticket": spare["ticket"]}) as late:
        assert (await late.wait_event(_closed(late)))["code"] == CloseCode.UNAUTHORIZED
    assert (await api.post(url, json={"user_id": _uid(member)}, headers=host.auth)).status_code == 401

    async with _joined(dojo_server, api, dojo, member) as client:
        handed = await api.post(url, json={"user_id": _uid(member)}, headers=admin.auth)
        assert handed.status_code == 200, handed.text
        assert handed.json()["host_id"] == _uid(member)
        # The new host moderates at once; the member's open connection keeps editing.
        locked = await api.patch(f"/v1/dojos/{dojo['id']}/settings", json={"locked": True}, headers=member.auth)
        assert locked.status_code == 200, locked.text
        await client.insert(0, "still here")
        assert await client.get_text() == "still here"
    # An admin may also take the host role themselves, joining the dojo (even a locked one) to do so.
    taken = await api.post(url, json={"user_id": _uid(admin)}, headers=admin.auth)
    assert taken.status_code == 200, taken.text
    assert taken.json()["host_id"] == _uid(admin)
    assert {p["user_id"]: p["status"] for p in taken.json()["participants"]}[_uid(admin)] == "admitted"
    assert (await api.post(url, json={"user_id": _uid(admin)}, headers=admin.auth)).status_code == 409
    stranger = str(uuid.uuid4())
    assert (await api.post(url, json={"user_id": stranger}, headers=admin.auth)).status_code == 404
    assert (await api.post(url, json={"user_id": "nope"}, headers=admin.auth)).status_code == 422


async def test_open_connections_of_a_deleted_account_close(dojo_server: CollabServer, api: httpx.AsyncClient) -> None:
    admin, member = await _team(dojo_server, api, 1)
    dojo = await _create(api, admin)
    async with (
        _joined(dojo_server, api, dojo, member) as in_dojo,
        JsClient.start(
            dojo_server.ws_url, "plain-room", params={"ticket": await dojo_server.ticket(api, member, "plain-room")}
        ) as in_room,
    ):
        await in_room.wait_synced()
        assert (await api.delete(f"/v1/users/{_uid(member)}", headers=admin.auth)).status_code == 204
        for client in (in_dojo, in_room):
            # Re-checked every few seconds (the dojo service's refresh), not only at the next connection.
            closed = await client.wait_event(_closed(client), within=15.0)
            assert closed["code"] == CloseCode.UNAUTHORIZED


async def test_a_tenant_admin_ends_a_dojo_they_do_not_host(dojo_server: CollabServer, api: httpx.AsyncClient) -> None:
    admin, host, member = await _team(dojo_server, api, 2)
    dojo = await _create(api, host)
    async with _joined(dojo_server, api, dojo, member) as client:
        await client.insert(0, "kata")
        refused = await api.post(f"/v1/dojos/{dojo['id']}/end", headers=member.auth)
        assert refused.status_code == 403  # a participant who is neither host nor admin
        ended = await api.post(f"/v1/dojos/{dojo['id']}/end", headers=admin.auth)
        assert ended.status_code == 200, ended.text
        assert ended.json()["status"] == "ended"
        closed = await client.wait_event(_closed(client), within=2.0)
        assert closed["code"] == CloseCode.NOT_FOUND
    assert (await api.post(f"/v1/dojos/{dojo['id']}/end", headers=admin.auth)).status_code == 409


async def test_chat_history_paging_limits_and_refusals(dojo_server: CollabServer, api: httpx.AsyncClient) -> None:
    # Live delivery to signaling sockets: tests/cluster/test_dojo_cluster.py, on every node.
    host, member, stranger = await _team(dojo_server, api, 2)
    dojo = await _create(api, host)
    await _ticket(api, dojo, member)
    path = f"/v1/dojos/{dojo['id']}/messages"
    sent = []
    for i in range(4):
        response = await api.post(path, json={"text": f"olá {i}"}, headers=member.auth)
        assert response.status_code == 201, response.text
        sent.append(response.json())
    assert sent[0]["user_id"] == _uid(member) and sent[0]["text"] == "olá 0"

    page = (await api.get(f"{path}?limit=3", headers=host.auth)).json()
    assert [m["text"] for m in page["items"]] == ["olá 3", "olá 2", "olá 1"]
    rest = (await api.get(f"{path}?limit=3&cursor={page['next_cursor']}", headers=host.auth)).json()
    assert [m["text"] for m in rest["items"]] == ["olá 0"] and rest["next_cursor"] is None
    since = (await api.get(f"{path}?after={sent[1]['id']}", headers=host.auth)).json()
    assert [m["text"] for m in since["items"]] == ["olá 2", "olá 3"]

    too_long = await api.post(path, json={"text": "x" * 201}, headers=member.auth)
    assert too_long.status_code == 422 and "200 characters" in too_long.json()["errors"][0]["message"]
    assert (await api.post(path, json={"text": "   "}, headers=member.auth)).status_code == 422
    assert (await api.post(path, json={}, headers=member.auth)).status_code == 422
    nul = await api.post(path, json={"text": "a\u0000b"}, headers=member.auth)
    assert nul.status_code == 422 and "NUL" in nul.json()["errors"][0]["message"]
    surrogate = await api.post(
        path, content=b'{"text": "broken \\udcc6"}', headers={**member.auth, "Content-Type": "application/json"}
    )
    assert surrogate.status_code == 422 and "unicode" in surrogate.json()["errors"][0]["message"].lower()
    # 5 per minute: the fifth goes through, the sixth waits.
    assert (await api.post(path, json={"text": "fifth"}, headers=member.auth)).status_code == 201
    limited = await api.post(path, json={"text": "sixth"}, headers=member.auth)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
    assert (
        await api.post(path, json={"text": "host is not limited by the member"}, headers=host.auth)
    ).status_code == 201
    # Not a participant: neither reads nor writes.
    assert (await api.get(path, headers=stranger.auth)).status_code == 403
    assert (await api.post(path, json={"text": "hi"}, headers=stranger.auth)).status_code == 403
    await api.post(f"/v1/dojos/{dojo['id']}/end", headers=host.auth)
    assert (await api.post(path, json={"text": "late"}, headers=host.auth)).status_code == 409
    assert len((await api.get(f"{path}?limit=50", headers=member.auth)).json()["items"]) == 6


def _metric(text: str, name: str, labels: str = "") -> float:
    for line in text.splitlines():
        if line.startswith(f"{name}{labels} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_dojos_participants_and_chat(dojo_server: CollabServer, api: httpx.AsyncClient) -> None:
    host, member = await _team(dojo_server, api, 1)
    before = (await api.get("/metrics")).text
    dojo = await _create(api, host)
    async with _joined(dojo_server, api, dojo, host), _joined(dojo_server, api, dojo, member):
        assert (
            await api.post(f"/v1/dojos/{dojo['id']}/messages", json={"text": "hi"}, headers=host.auth)
        ).status_code == 201
        during = (await api.get("/metrics")).text
        assert _metric(during, "pocdojo_dojos_active") == _metric(before, "pocdojo_dojos_active") + 1
        assert (
            _metric(during, "pocdojo_dojo_participants_connected")
            == _metric(before, "pocdojo_dojo_participants_connected") + 2
        )
        stored = '{outcome="stored"}'
        assert (
            _metric(during, "pocdojo_dojo_chat_messages_total", stored)
            == _metric(before, "pocdojo_dojo_chat_messages_total", stored) + 1
        )
        assert _metric(during, "pocdojo_dojos_created_total") == _metric(before, "pocdojo_dojos_created_total") + 1
    await api.post(f"/v1/dojos/{dojo['id']}/end", headers=host.auth)
    after = (await api.get("/metrics")).text
    assert _metric(after, "pocdojo_dojos_active") == _metric(before, "pocdojo_dojos_active")
    assert _metric(after, "pocdojo_dojo_participants_connected") == _metric(
        before, "pocdojo_dojo_participants_connected"
    )


async def test_a_bearer_connection_closes_when_its_token_expires(
    dojo_server: CollabServer, api: httpx.AsyncClient
) -> None:
    import jwt

    host = await dojo_server.user(api)
    assert dojo_server.app is not None
    keys = identity_services(dojo_server.app.apps[0]).keys  # the identity service's signing keys
    claims = jwt.decode(host.access_token, options={"verify_signature": False})
    dojo = await _create(api, host)
    for room in (dojo["id"], "plain-room"):
        now = int(time.time())
        expires = now + 3
        short = keys.sign({**claims, "iat": now, "nbf": now, "exp": expires, "jti": uuid.uuid4().hex})
        async with connect(
            f"{dojo_server.ws_url}/{room}", additional_headers={"Authorization": f"Bearer {short}"}, compression=None
        ) as ws:
            code = await closed_with(ws, within=8.0)
            closed_at = time.time()
        assert code == CloseCode.UNAUTHORIZED
        # Closed because the token expired: not before its `exp` (and without the client doing anything:
        # `closed_with` waited for the server's close).
        assert closed_at >= expires - 0.05, (expires, closed_at)


async def test_signaling_socket_carries_the_dojo_and_closes_on_kick_and_end(
    dojo_server: CollabServer, api: httpx.AsyncClient
) -> None:
    import jsonschema_rs

    from dojo.messages import SERVER_MESSAGES
    from tests.signaling.client import SignalClient

    state_schema = jsonschema_rs.validator_for(SERVER_MESSAGES["dojo"])
    host, member, other = await _team(dojo_server, api, 2)
    dojo = await _create(api, host)
    base = dojo_server.base.replace("http://", "ws://", 1)

    def url(ticket: dict[str, Any]) -> str:
        return f"{base}/v1/signal/{ticket['room']}?ticket={ticket['ticket']}"

    async with (
        SignalClient.connect(url(await _ticket(api, dojo, host))) as h,
        SignalClient.connect(url(await _ticket(api, dojo, member))) as m,
        SignalClient.connect(url(await _ticket(api, dojo, other))) as o,
    ):
        first = await m.next("dojo", within=2.0)
        state_schema.validate(first)
        assert first["reason"] == "welcome" and first["dojo"]["id"] == dojo["id"]
        assert _uid(member) in {p["user_id"] for p in first["dojo"]["participants"]}
        await api.post(f"/v1/dojos/{dojo['id']}/participants/{_uid(member)}/kick", headers=host.auth)
        with pytest.raises(AssertionError, match="closed"):
            await m.next("never-sent", within=2.0)
        assert m.ws.close_code == CloseCode.FORBIDDEN
        kicked = await h.next("dojo", within=2.0)
        while kicked["reason"] != "kick":
            kicked = await h.next("dojo", within=2.0)
        assert _uid(member) not in {p["user_id"] for p in kicked["dojo"]["participants"]}
        await api.post(f"/v1/dojos/{dojo['id']}/end", headers=host.auth)
        for client in (h, o):
            ended = await client.next("dojo", within=2.0)
            while ended["reason"] != "ended":
                ended = await client.next("dojo", within=2.0)
            assert ended["dojo"]["status"] == "ended"
            with pytest.raises(AssertionError, match="closed"):
                await client.next("never-sent", within=2.0)
            assert client.ws.close_code == CloseCode.NOT_FOUND


async def test_participants_say_who_is_online(dojo_server: CollabServer, api: httpx.AsyncClient) -> None:
    """`online`: an open collab or signaling connection to the dojo right now."""
    from tests.signaling.client import SignalClient

    host, member, absent = await _team(dojo_server, api, 2)
    dojo = await _create(api, host)
    await _ticket(api, dojo, absent)
    await _ticket(api, dojo, member)
    base = dojo_server.base.replace("http://", "ws://", 1)

    def online_is(expected: dict[str, bool]) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            items = (await api.get(f"/v1/dojos/{dojo['id']}/participants", headers=member.auth)).json()["items"]
            return {p["user_id"]: p["online"] for p in items} == expected

        return check

    everyone_off = {_uid(host): False, _uid(member): False, _uid(absent): False}
    await wait_until(online_is(everyone_off))
    async with _joined(dojo_server, api, dojo, host):
        await wait_until(online_is({**everyone_off, _uid(host): True}))
        ticket = await _ticket(api, dojo, member)
        async with SignalClient.connect(f"{base}/v1/signal/{ticket['room']}?ticket={ticket['ticket']}") as m:
            await m.next("dojo", within=2.0)
            await wait_until(online_is({**everyone_off, _uid(host): True, _uid(member): True}))
        await wait_until(online_is({**everyone_off, _uid(host): True}))
    await wait_until(online_is(everyone_off))
