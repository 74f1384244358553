"""Dojo replay on one node (docs/replay.md): state at any instant equals what the clients saw, blame,
diff, the timeline, frames, history off, access rules, and history that survives compaction and a
restart. Real y-websocket clients (tests/jsclient.py), real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from crdt import CloseCode
from deploy.local import DatabaseUrls
from dojo.docstore import room_key
from dojo.services import services_of as dojo_services
from runtime.settings import Settings
from tests.conftest import wait_until
from tests.dojo.conftest import CollabServer, User
from tests.dojo.test_dojos import _create, _joined, _team, _uid

FILES = ("src/kata.py", "README.md")


@pytest.fixture
async def replay_server(make_settings: Callable[..., Settings]) -> AsyncIterator[CollabServer]:
    server = CollabServer(
        make_settings,
        overrides={"dojo_history_checkpoint_updates": 5, "dojo_randori_min_seconds": 0.5},
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def api(replay_server: CollabServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=replay_server.base, timeout=30) as client:
        yield client


def utf16_slice(text: str, start: int, end: int) -> str:
    data = text.encode("utf-16-le")
    return data[2 * start : 2 * end].decode("utf-16-le")


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def instant() -> datetime:
    """A millisecond instant (the contract's resolution) at or after everything the server accepted so far
    (read after the clients converged; the server runs in this process, on this clock), and before anything
    it accepts next: returns once the clock has moved past it by a whole millisecond."""
    now = datetime.now(UTC)
    at = now.replace(microsecond=now.microsecond // 1000 * 1000) + timedelta(milliseconds=1)

    async def passed() -> bool:
        return datetime.now(UTC) > at + timedelta(milliseconds=1)

    await wait_until(passed)
    return at


async def recorded(server: CollabServer) -> None:
    """Wait until the node's history writer has written everything it queued."""
    recorder = dojo_services(server.dojo_app).history_recorder
    await wait_until(lambda: _idle(recorder))


async def _idle(recorder: Any) -> bool:
    return bool(recorder.backlog == 0)


async def _get(api: httpx.AsyncClient, path: str, user: User, **params: str) -> dict[str, Any]:
    response = await api.get(path, params=params, headers=user.auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_state_at_equals_what_the_clients_saw_and_blame_names_every_typist(
    replay_server: CollabServer, api: httpx.AsyncClient
) -> None:
    host, member = await _team(replay_server, api, 1)
    dojo = await _create(api, host)
    dojo_id = dojo["id"]
    seen: list[tuple[datetime, dict[str, str]]] = []
    async with _joined(replay_server, api, dojo, host) as a, _joined(replay_server, api, dojo, member) as b:
        script: list[tuple[Any, str, int, str]] = [
            (a, "src/kata.py", 0, "def score(rolls):\n"),
            (b, "src/kata.py", 18, "    return sum(rolls)  # ação 🎳\n"),
            (b, "README.md", 0, "# Bowling 🎳 kata\n"),
            (a, "src/kata.py", 0, "# é😀\n"),
            (a, "README.md", 17, "Two authors.\n"),
            (b, "src/kata.py", 5, "ü"),
        ]
        for client, path, index, text in script:
            await client.insert(index, text, file=path)
            for other in (a, b):
                await other.wait_text(await client.get_text(file=path), file=path)
            seen.append((await instant(), {p: await a.get_text(file=p) for p in FILES}))
        await a.delete(2, 3, file="src/kata.py")  # removes "é😀" (3 UTF-16 units) typed by a
        for other in (a, b):
            await other.wait_text(await a.get_text(file="src/kata.py"), file="src/kata.py")
        seen.append((await instant(), {p: await a.get_text(file=p) for p in FILES}))
        await recorded(replay_server)
    ended = await api.post(f"/v1/dojos/{dojo_id}/end", headers=host.auth)
    assert ended.status_code == 200, ended.text
    started = datetime.fromisoformat(ended.json()["started_at"])

    for at, texts in seen:
        state = await _get(api, f"/v1/dojos/{dojo_id}/state", member, at=rfc3339(at))
        assert {f["path"]: f["text"] for f in state["files"]} == {p: t for p, t in texts.items() if t}
        # The same instant as milliseconds since the start (`+` sent encoded, as a client must).
        t_ms = (at - started) // timedelta(milliseconds=1)  # that millisecond, which holds `at`
        again = await _get(api, f"/v1/dojos/{dojo_id}/state", member, at=f"+{t_ms}")
        assert again["files"] == state["files"] and again["t_ms"] == t_ms
    final = await _get(api, f"/v1/dojos/{dojo_id}/state", host)
    assert {f["path"]: f["text"] for f in final["files"]} == ended.json()["snapshot"]["files"]

    # Blame: every range is exactly what its author typed.
    typed = {
        _uid(host): "def score(rolls):\n# \nTwo authors.\n",
        _uid(member): "    return sum(rolls)  # ação 🎳\nü# Bowling 🎳 kata\n",
    }
    blame = await _get(api, f"/v1/dojos/{dojo_id}/blame", member)
    for file in blame["files"]:
        text = next(f["text"] for f in final["files"] if f["path"] == file["path"])
        assert file["length"] == len(text.encode("utf-16-le")) // 2
        position = 0
        for item in file["ranges"]:
            assert item["start"] == position and item["end"] > item["start"]
            position = item["end"]
            piece = utf16_slice(text, item["start"], item["end"])
            assert all(ch in typed[item["user_id"]] for ch in piece), (piece, item["user_id"])
        assert position == file["length"]
    kata = next(f for f in blame["files"] if f["path"] == "src/kata.py")
    assert [r["user_id"] for r in kata["ranges"]] == [_uid(host), _uid(member), _uid(host), _uid(member)]

    # Blame at an instant: before b wrote anything, a wrote everything there was.
    early = await _get(api, f"/v1/dojos/{dojo_id}/blame", member, at=rfc3339(seen[0][0]))
    assert early["files"] == [
        {"path": "src/kata.py", "length": 18, "ranges": [{"start": 0, "end": 18, "user_id": _uid(host)}]}
    ]

    # Diff between two instants, per file.
    diff = await _get(
        api, f"/v1/dojos/{dojo_id}/diff", host, **{"from": rfc3339(seen[0][0]), "to": rfc3339(seen[2][0])}
    )
    assert [(f["path"], f["status"]) for f in diff["files"]] == [("README.md", "added"), ("src/kata.py", "modified")]
    kata_diff = diff["files"][1]
    assert "+    return sum(rolls)  # ação 🎳\n" in kata_diff["unified"]
    assert (kata_diff["inserted_lines"], kata_diff["deleted_lines"]) == (1, 0)

    # The timeline: authors with colours, bursts per author and file, checkpoints.
    history = await _get(api, f"/v1/dojos/{dojo_id}/history", host)
    assert history["history"] == "on" and history["ended_at"] is not None
    assert history["files"] == ["README.md", "src/kata.py"]
    authors = {item["user_id"]: item for item in history["authors"]}
    assert set(authors) == {_uid(host), _uid(member)}
    assert authors[_uid(host)]["display_name"] == host.email.split("@")[0]
    assert len({item["color"] for item in history["authors"]}) == 2
    assert {(e["user_id"], e["file"]) for e in history["edits"]} == {
        (_uid(host), "src/kata.py"),
        (_uid(member), "src/kata.py"),
        (_uid(member), "README.md"),
        (_uid(host), "README.md"),
    }
    assert sum(e["inserted"] for e in history["edits"]) == sum(len(t.encode("utf-16-le")) // 2 for *_, t in script)
    assert sum(e["deleted"] for e in history["edits"]) == 3
    assert history["checkpoints"], "5 updates per checkpoint: the 7 edits made one"


async def test_frames_cut_each_instant_by_author_in_one_pass(
    replay_server: CollabServer, api: httpx.AsyncClient
) -> None:
    host, member = await _team(replay_server, api, 1)
    dojo = await _create(api, host)
    async with _joined(replay_server, api, dojo, host) as a, _joined(replay_server, api, dojo, member) as b:
        await a.insert(0, "ab", file="f.txt")
        await b.wait_text("ab", file="f.txt")
        await b.insert(1, "🎳", file="f.txt")
        await a.wait_text("a🎳b", file="f.txt")
        await recorded(replay_server)
    started = datetime.fromisoformat(dojo["started_at"])
    now = (datetime.now(UTC) - started) // timedelta(milliseconds=1)
    response = await api.post(
        f"/v1/dojos/{dojo['id']}/history/frames", json={"t_ms": [0, now, now]}, headers=member.auth
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0] == {"t_ms": 0, "driver_id": None, "files": []}
    runs = [
        {"text": "a", "user_id": _uid(host)},
        {"text": "🎳", "user_id": _uid(member)},
        {"text": "b", "user_id": _uid(host)},
    ]
    assert lines[1] == lines[2] == {"t_ms": now, "driver_id": None, "files": [{"path": "f.txt", "runs": runs}]}
    for bad in ([], [5, 4], [-1]):
        refused = await api.post(f"/v1/dojos/{dojo['id']}/history/frames", json={"t_ms": bad}, headers=host.auth)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"].endswith("t_ms")


async def test_history_survives_compaction_and_a_restart(replay_server: CollabServer, api: httpx.AsyncClient) -> None:
    (host,) = await _team(replay_server, api, 0)
    dojo = await _create(api, host)
    async with _joined(replay_server, api, dojo, host) as a:
        await a.insert(0, "first draft\n", file="notes.md")
        await a.wait_text("first draft\n", file="notes.md")
        early = await instant()
        await a.delete(0, 5, file="notes.md")
        await a.insert(0, "final", file="notes.md")
        await a.wait_text("final draft\n", file="notes.md")
        await recorded(replay_server)
    key = room_key(host.tenant_id, dojo["id"])
    store = dojo_services(replay_server.dojo_app).store
    await wait_until(lambda: _stored(store, key))
    assert await store.compact(key)
    assert len(await store.load(key)) == 1  # the document is one snapshot now: its edits are merged away
    state = await _get(api, f"/v1/dojos/{dojo['id']}/state", host, at=rfc3339(early))
    assert state["files"] == [{"path": "notes.md", "text": "first draft\n"}]
    await replay_server.stop()
    await replay_server.start()
    state = await _get(api, f"/v1/dojos/{dojo['id']}/state", host, at=rfc3339(early))
    assert state["files"] == [{"path": "notes.md", "text": "first draft\n"}]


async def _stored(store: Any, key: str) -> bool:
    return bool(await store.load(key))


async def test_access_bad_instants_and_history_off(replay_server: CollabServer, api: httpx.AsyncClient) -> None:
    admin, member, outsider = await _team(replay_server, api, 2)
    dojo = await _create(api, member)  # the tenant's admin never joins it
    async with _joined(replay_server, api, dojo, member) as b:
        await b.insert(0, "x", file="a.txt")
        await recorded(replay_server)
    dojo_id = dojo["id"]
    paths = [f"/v1/dojos/{dojo_id}/{p}" for p in ("history", "state", "blame")]
    # Not a participant: 404, as for a dojo that does not exist; another tenant: 404 (RLS).
    stranger = await replay_server.user(api)
    for path in paths:
        for who in (outsider, stranger):
            response = await api.get(path, headers=who.auth)
            assert response.status_code == 404, (path, response.text)
    frames = await api.post(f"/v1/dojos/{dojo_id}/history/frames", json={"t_ms": [0]}, headers=outsider.auth)
    assert frames.status_code == 404
    # A tenant admin who never joined reads it.
    for path in paths:
        assert (await api.get(path, headers=admin.auth)).status_code == 200
    # Bad instants: 422 naming the field.
    started = datetime.fromisoformat(dojo["started_at"])
    for params, field in (
        ({"at": "yesterday"}, "at"),
        ({"at": rfc3339(started - timedelta(seconds=1))}, "at"),
        ({"at": "2026-12-06T03:10:00"}, "at"),
        ({"at": "+-5"}, "at"),
    ):
        response = await api.get(f"/v1/dojos/{dojo_id}/state", params=params, headers=member.auth)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["errors"][0]["field"] == field
    late = rfc3339(datetime.now(UTC))
    early = rfc3339(started)
    response = await api.get(f"/v1/dojos/{dojo_id}/diff", params={"from": late, "to": early}, headers=member.auth)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "to"
    response = await api.get(f"/v1/dojos/{dojo_id}/diff", params={"from": "nope"}, headers=member.auth)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "from"
    # History off: only an administrator switches it; then 409 `history-off`, and nothing is recorded.
    refused = await api.put("/v1/dojos/settings/history", json={"enabled": False}, headers=member.auth)
    assert refused.status_code == 403
    off = await api.put("/v1/dojos/settings/history", json={"enabled": False}, headers=admin.auth)
    assert off.status_code == 200 and off.json() == {"history": "off"}
    for path in paths:
        response = await api.get(path, headers=member.auth)
        assert response.status_code == 409 and response.json()["type"].endswith("/history-off"), response.text
    async with _joined(replay_server, api, dojo, member) as b:
        await b.insert(1, "y", file="a.txt")
        await b.wait_text("xy", file="a.txt")
        await recorded(replay_server)
    assert (await api.put("/v1/dojos/settings/history", json={"enabled": True}, headers=admin.auth)).status_code == 200
    state = await _get(api, f"/v1/dojos/{dojo_id}/state", member)
    assert state["files"] == [{"path": "a.txt", "text": "x"}]  # the edit made while history was off is not there


async def test_a_full_history_queue_refuses_edits_with_1013_and_loses_nothing(
    make_settings: Callable[..., Settings], database: DatabaseUrls
) -> None:
    server = CollabServer(make_settings, overrides={"dojo_history_max_queue": 2, "dojo_history_batch": 1})
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as api:
            (host,) = await _team(server, api, 0)
            dojo = await _create(api, host)
            async with _joined(server, api, dojo, host) as a:
                await a.insert(0, "0", file="f.txt")
                await recorded(server)
                admin = await asyncpg.connect(database.admin)
                try:
                    # The history writer is stuck: its INSERT waits for this lock.
                    lock = admin.transaction()
                    await lock.start()
                    await admin.execute("LOCK TABLE dojo.history_updates IN SHARE MODE")
                    for i in range(1, 6):
                        await a.insert(i, str(i), file="f.txt")
                    closed = await a.wait_event(lambda e: e.get("event") == "connectionClose", within=10)
                    assert closed["code"] == CloseCode.TRY_AGAIN_LATER
                    recorder = dojo_services(server.dojo_app).history_recorder
                    assert recorder.refused >= 1 and recorder.backlog == recorder.max_queue
                    await lock.rollback()
                finally:
                    await admin.close()
                # The client reconnects by itself; its edits come back and every one is recorded.
                text = await a.get_text(file="f.txt")
                assert text == "012345"

                async def complete() -> bool:
                    state = await api.get(f"/v1/dojos/{dojo['id']}/state", headers=host.auth)
                    return bool(state.json()["files"] == [{"path": "f.txt", "text": text}])

                await wait_until(complete, within=20)
    finally:
        await server.stop()


async def test_randori_rotations_are_in_the_timeline_and_the_frames(
    replay_server: CollabServer, api: httpx.AsyncClient
) -> None:
    host, member = await _team(replay_server, api, 1)
    dojo = await _create(api, host, settings={"randori_seconds": 1})
    async with _joined(replay_server, api, dojo, host), _joined(replay_server, api, dojo, member):

        async def rotated() -> bool:
            state = await _get(api, f"/v1/dojos/{dojo['id']}", host)
            return bool(state["randori"]["driver_id"] == _uid(member))

        await wait_until(rotated)
    history = await _get(api, f"/v1/dojos/{dojo['id']}/history", member)
    rotations = history["rotations"]
    assert [(r["driver_id"], r["navigator_id"]) for r in rotations[:2]] == [
        (_uid(host), None),  # created: the host drives, nobody else has joined yet
        (_uid(member), _uid(host)),
    ]
    assert rotations[0]["t_ms"] <= rotations[1]["t_ms"]
    instants = [rotations[0]["t_ms"], rotations[1]["t_ms"]]
    frames = await api.post(f"/v1/dojos/{dojo['id']}/history/frames", json={"t_ms": instants}, headers=host.auth)
    assert [json.loads(line)["driver_id"] for line in frames.text.splitlines()] == [_uid(host), _uid(member)]


async def test_edits_made_while_history_was_off_do_not_reach_it_at_the_end(
    replay_server: CollabServer, api: httpx.AsyncClient
) -> None:
    admin, member = await _team(replay_server, api, 1)
    dojo = await _create(api, member)
    async with _joined(replay_server, api, dojo, member) as b:
        await b.insert(0, "x", file="a.txt")
        await recorded(replay_server)
        off = await api.put("/v1/dojos/settings/history", json={"enabled": False}, headers=admin.auth)
        assert off.status_code == 200, off.text
        await b.insert(1, "private", file="a.txt")
        await b.wait_text("xprivate", file="a.txt")
        await recorded(replay_server)
        on = await api.put("/v1/dojos/settings/history", json={"enabled": True}, headers=admin.auth)
        assert on.status_code == 200, on.text
    # The end compares the sealed document with the history: what was typed while history was off is in
    # the document, and must stay out of the history (the dojo was not recorded all along).
    ended = await api.post(f"/v1/dojos/{dojo['id']}/end", headers=member.auth)
    assert ended.status_code == 200, ended.text
    assert ended.json()["snapshot"]["files"] == {"a.txt": "xprivate"}
    state = await _get(api, f"/v1/dojos/{dojo['id']}/state", member)
    assert state["files"] == [{"path": "a.txt", "text": "x"}]
    history = await _get(api, f"/v1/dojos/{dojo['id']}/history", member)
    assert sum(e["inserted"] for e in history["edits"]) == 1
