"""The real Node y-websocket client (yjs 13, y-websocket 3) against our server."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json

import httpx
import pytest

from dojo.services import services_of as dojo_services
from tests.conftest import wait_until
from tests.dojo.conftest import CollabServer
from tests.dojo.yclient import PyClient
from tests.jsclient import REPLAY_SCRIPT, JsClient, require_node
from tests.traces import TRACES


async def _ticket_params(collab: CollabServer, http: httpx.AsyncClient, user, room: str, mode: str = "read-write"):  # type: ignore[no-untyped-def]
    return {"ticket": await collab.ticket(http, user, room, mode)}


async def test_two_js_clients_and_a_python_client_converge(collab: CollabServer, http: httpx.AsyncClient) -> None:
    user = await collab.user(http)
    room = "converge"
    async with (
        JsClient.start(collab.ws_url, room, params=await _ticket_params(collab, http, user, room)) as a,
        JsClient.start(collab.ws_url, room, params=await _ticket_params(collab, http, user, room)) as b,
        PyClient.connect(f"{collab.ws_url}/{room}", headers=user.auth) as py,
    ):
        await a.wait_synced()
        await b.wait_synced()
        await asyncio.wait_for(py.synced.wait(), 5)
        await a.insert(0, "hello ")
        await b.wait_text("hello ")
        py.text.insert(len(py.text), "from python")
        await a.wait_text("hello from python")
        await b.insert(0, ">> ")
        await py.wait_text(">> hello from python")
        assert await a.get_text() == await b.get_text() == str(py.text)


async def test_offline_edits_merge_on_reconnect(collab: CollabServer, http: httpx.AsyncClient) -> None:
    user = await collab.user(http)
    room = "offline"
    params = await _ticket_params(collab, http, user, room)
    async with (
        JsClient.start(collab.ws_url, room, params=params) as a,
        JsClient.start(collab.ws_url, room, params=await _ticket_params(collab, http, user, room)) as b,
    ):
        await a.wait_synced()
        await b.wait_synced()
        await a.insert(0, "base.")
        await b.wait_text("base.")
        await a.disconnect()
        await a.insert(5, " offline-a")
        await b.insert(0, "online-b ")
        await b.wait_text("online-b base.")
        # The ticket in the provider's URL has expired or not; a fresh one keeps the test honest.
        await a.connect()
        await a.wait_synced(within=10)
        await a.wait_text("online-b base. offline-a", within=10)
        await b.wait_text("online-b base. offline-a", within=10)


async def test_awareness_of_a_killed_client_is_removed_when_its_socket_drops(
    collab: CollabServer, http: httpx.AsyncClient
) -> None:
    user = await collab.user(http)
    room = "presence"
    async with JsClient.start(collab.ws_url, room, params=await _ticket_params(collab, http, user, room)) as watcher:
        await watcher.wait_synced()
        await watcher.set_awareness({"user": "watcher"})
        async with JsClient.start(collab.ws_url, room, params=await _ticket_params(collab, http, user, room)) as doomed:
            await doomed.wait_synced()
            await doomed.set_awareness({"user": "doomed", "cursor": 3})
            # The newcomer received the awareness already present.
            doomed_states = await doomed.awareness()
            assert {"user": "watcher"} in doomed_states.values()
            doomed_id = await doomed.client_id()

            async def watcher_sees_doomed() -> bool:
                return doomed_id in await watcher.awareness()

            await wait_until(watcher_sees_doomed)
            doomed._process.proc.kill()  # SIGKILL: no goodbye from the client

            async def ghost_gone() -> bool:
                return not await watcher_sees_doomed()

            # The server removes the state when the socket drops. Waiting out the awareness protocol's own
            # 30 s timeout would not pass within these 10 s.
            await wait_until(ghost_gone, within=10)


async def test_clients_edit_through_a_graceful_server_restart_and_converge(
    collab: CollabServer, http: httpx.AsyncClient
) -> None:
    user = await collab.user(http)
    room = "restart"
    params_a = await _ticket_params(collab, http, user, room)
    params_b = await _ticket_params(collab, http, user, room)
    # Tickets only open a connection; the reconnects below present them again, so give them time.
    async with (
        JsClient.start(collab.ws_url, room, params=params_a, max_backoff_ms=300) as a,
        JsClient.start(collab.ws_url, room, params=params_b, max_backoff_ms=300) as b,
    ):
        await a.wait_synced()
        await b.wait_synced()
        await a.insert(0, "before restart. ")
        await b.wait_text("before restart. ")
        await collab.stop()
        await a.insert(16, "a while down. ")
        await b.insert(0, "b while down. ")
        await collab.start()
        expected = "b while down. before restart. a while down. "
        await a.wait_text(expected, within=15)
        await b.wait_text(expected, within=15)
    # And the server kept it: read back over HTTP after the clients left.
    content = await http.get(f"/v1/collab/{room}/content", params={"text": "text"}, headers=user.auth)
    assert content.json()["text"]["text"] == expected


async def test_twenty_clients_open_a_cold_room_at_once(collab: CollabServer, http: httpx.AsyncClient) -> None:
    user = await collab.user(http)
    room = "cold"
    # Seed the stored document, then let the room unload so that it is cold.
    async with JsClient.start(collab.ws_url, room, params=await _ticket_params(collab, http, user, room)) as seed:
        await seed.wait_synced()
        await seed.insert(0, "stored content")
    manager = dojo_services(collab.dojo_app).manager

    async def unloaded() -> bool:
        return not manager.rooms

    await wait_until(unloaded, within=10)
    params = [await _ticket_params(collab, http, user, room) for _ in range(20)]
    async with contextlib.AsyncExitStack() as stack:
        # Start the 20 processes together: they connect at (nearly) the same instant.
        clients = await asyncio.gather(
            *(stack.enter_async_context(JsClient.start(collab.ws_url, room, params=p)) for p in params)
        )
        await asyncio.gather(*(c.wait_synced(within=20) for c in clients))
        texts = await asyncio.gather(*(c.get_text() for c in clients))
        assert texts == ["stored content"] * 20


@pytest.mark.slow
async def test_concurrent_friendsforever_trace_through_our_server(make_settings) -> None:  # type: ignore[no-untyped-def]
    # A replay types ~13,000 transactions per agent as fast as it can: lift the per-connection rate
    # limit that protects the server from floods (tested on its own elsewhere).
    collab = CollabServer(make_settings, overrides={"collab_messages_per_second": 100_000.0})
    await collab.start()
    try:
        async with httpx.AsyncClient(base_url=collab.base, timeout=30) as http:
            await _replay_friendsforever(collab, http)
    finally:
        await collab.stop()


async def _replay_friendsforever(collab: CollabServer, http: httpx.AsyncClient) -> None:
    node = require_node()
    trace = TRACES / "friendsforever.json.gz"
    end_content = json.loads(gzip.decompress(trace.read_bytes()))["endContent"]
    user = await collab.user(http)
    room = "friendsforever"
    procs = []
    for agent in (0, 1):
        ticket = await collab.ticket(http, user, room)
        procs.append(
            await asyncio.create_subprocess_exec(
                node,
                str(REPLAY_SCRIPT),
                "--url",
                collab.ws_url,
                "--room",
                room,
                "--agent",
                str(agent),
                "--trace",
                str(trace),
                "--params",
                json.dumps({"ticket": ticket}),
                cwd=REPLAY_SCRIPT.parent,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        )
    try:
        outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 120)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()[-2000:]
        events = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        # "converged": the client's text equals endContent (the script checks it before exiting 0).
        assert any(e["event"] == "converged" for e in events), events[-3:]
    content = await http.get(f"/v1/collab/{room}/content", params={"text": "text"}, headers=user.auth)
    assert content.json()["text"]["text"] == end_content
    # After a reload from PostgreSQL: restart the server and read again.
    await collab.stop()
    await collab.start()
    content = await http.get(f"/v1/collab/{room}/content", params={"text": "text"}, headers=user.auth)
    assert content.json()["text"]["text"] == end_content
