"""Costly requests and resource caps on the realtime node: reading a large document does not stall
the event loop, root names per request are capped, one user's websockets per node are capped."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jwt
import pytest
from pycrdt import Doc, Map
from websockets.asyncio.client import connect

from crdt import CloseCode
from dojo.docstore import room_key
from dojo.services import services_of as dojo_services
from dojo.user_connections import UserConnections
from runtime.settings import Settings
from tests.conftest import wait_until
from tests.dojo.conftest import CollabServer
from tests.dojo.yclient import PyClient, closed_with
from tests.jsclient import JsClient

ROOTS = 32  # the default cap on root names per request
ENTRIES = 2000  # per root: ~2 MiB of small items, which pycrdt decodes in ~0.1 s here


def _big_document() -> bytes:
    doc: Doc[Any] = Doc()
    with doc.transaction():
        for i in range(ROOTS):
            root = doc.get(f"m{i}", type=Map)
            for j in range(ENTRIES):
                root[f"k{j}"] = f"value {j}"
    return doc.get_update()


class LoopLag:
    """The longest time the event loop went without running this probe (it wakes every 5 ms)."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, loop.time() - before - 0.005)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_reading_a_large_document_leaves_the_event_loop_free(
    collab: CollabServer, http: httpx.AsyncClient
) -> None:
    """The server runs in this test's event loop: a request that decodes on the loop blocks the
    probe for as long as it decodes, i.e. for most of the request. Decoding once, in a worker
    process, leaves the loop free for nearly all of it."""
    user = await collab.user(http)
    room = "big"
    await dojo_services(collab.dojo_app).store.append(room_key(user.tenant_id, room), [_big_document()])
    params = {"map": [f"m{i}" for i in range(ROOTS)]}
    async with PyClient.connect(f"{collab.ws_url}/{room}", headers=user.auth) as client:  # keeps the room loaded
        await asyncio.wait_for(client.synced.wait(), 30)
        loop = asyncio.get_running_loop()
        # A full collection of this test process's heap (large after a whole suite) also stops the loop;
        # that is not what this test looks at, so none runs while it measures.
        gc.collect()
        gc.disable()
        try:
            with LoopLag() as lag:
                started = loop.time()
                response = await http.get(f"/v1/collab/{room}/content", params=params, headers=user.auth)
                duration = loop.time() - started
        finally:
            gc.enable()
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["map"]) == ROOTS
        assert body["map"]["m7"]["k1999"] == "value 1999"
        # The loop was never blocked for more than a small part of the request (before: all of it).
        assert lag.worst < duration / 3, (lag.worst, duration)


async def test_root_names_are_capped_and_typed_once(collab: CollabServer, http: httpx.AsyncClient) -> None:
    user = await collab.user(http)
    too_many = await http.get(
        "/v1/collab/r/content", params={"text": [f"t{i}" for i in range(ROOTS + 1)]}, headers=user.auth
    )
    assert too_many.status_code == 422, too_many.text
    assert too_many.json()["errors"][0]["code"] == "too_many_roots"
    conflicting = await http.get("/v1/collab/r/content", params={"text": "a", "map": "a"}, headers=user.auth)
    assert conflicting.status_code == 422, conflicting.text
    assert conflicting.json()["errors"][0]["code"] == "conflicting_type"
    # At the cap, and repeated names count once.
    names = [f"t{i}" for i in range(ROOTS)]
    ok = await http.get("/v1/collab/r/content", params={"text": [*names, "t0"]}, headers=user.auth)
    assert ok.status_code == 200, ok.text
    assert sorted(ok.json()["text"]) == sorted(names)


async def test_state_is_encoded_once_per_change(collab: CollabServer, http: httpx.AsyncClient) -> None:
    user = await collab.user(http)
    room = "encoded-once"
    async with PyClient.connect(f"{collab.ws_url}/{room}", headers=user.auth) as client:
        await asyncio.wait_for(client.synced.wait(), 5)
        client.text.insert(0, "one")
        live = dojo_services(collab.dojo_app).manager

        async def has_text() -> bool:
            room_ = live.get(room_key(user.tenant_id, room))
            return room_ is not None and room_.stats.changes > 0

        await wait_until(has_text)
        first = await http.get(f"/v1/collab/{room}/state", headers=user.auth)
        loaded = live.get(room_key(user.tenant_id, room))
        assert loaded.state_update() is loaded.state_update()
        client.text.insert(3, " two")
        await client.wait_text("one two")

        async def changed() -> bool:
            state = await http.get(f"/v1/collab/{room}/state", headers=user.auth)
            return state.content != first.content

        await wait_until(changed)


CAP = 3


@pytest.fixture
async def capped(make_settings: Callable[..., Settings]) -> AsyncIterator[CollabServer]:
    server = CollabServer(make_settings, overrides={"ws_max_connections_per_user": CAP})
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_one_user_holds_at_most_the_cap_of_websockets_per_node(capped: CollabServer) -> None:
    async with httpx.AsyncClient(base_url=capped.base, timeout=30) as http:
        alice = await capped.user(http)
        bob = await capped.user(http, alice.tenant, f"bob@{alice.tenant}.example.com")
        subject = jwt.decode(alice.access_token, options={"verify_signature": False})["sub"]
        held = dojo_services(capped.dojo_app).user_connections
        signal_url = f"ws://127.0.0.1:{capped.port}/v1/signal/call"
        async with (
            PyClient.connect(f"{capped.ws_url}/a", headers=alice.auth) as first,
            PyClient.connect(f"{capped.ws_url}/b", headers=alice.auth),
            connect(signal_url, additional_headers=alice.auth, compression=None) as call,
        ):
            await asyncio.wait_for(first.synced.wait(), 5)
            assert json.loads(await call.recv())["type"] == "welcome"
            assert held.count(alice.tenant_id, subject) == CAP
            # One more, by the real y-websocket client: permission denied, 4429, and it stops retrying.
            ticket = await capped.ticket(http, alice, "a")
            async with JsClient.start(capped.ws_url, "a", params={"ticket": ticket}) as js:
                denied = await js.wait_event(lambda e: e["event"] == "permissionDenied")
                assert "too many connections" in denied["reason"]
                closed = await js.wait_event(lambda e: e["event"] == "closed")
                assert closed["code"] == CloseCode.TOO_MANY_CONNECTIONS
            # One more signaling socket: an error message, then 4429.
            async with connect(signal_url, additional_headers=alice.auth, compression=None) as extra:
                assert json.loads(await extra.recv())["code"] == "too_many_connections"
                assert await closed_with(extra) == CloseCode.TOO_MANY_CONNECTIONS
            # Another user of the same tenant is not affected.
            async with PyClient.connect(f"{capped.ws_url}/a", headers=bob.auth) as other:
                await asyncio.wait_for(other.synced.wait(), 5)
            await first.ws.close()

            async def released() -> bool:
                return held.count(alice.tenant_id, subject) == CAP - 1

            await wait_until(released)
            # A closed connection gives its place back.
            async with PyClient.connect(f"{capped.ws_url}/a", headers=alice.auth) as again:
                await asyncio.wait_for(again.synced.wait(), 5)
        await wait_until(lambda: _none_held(held, alice.tenant_id, subject))


async def _none_held(held: UserConnections, tenant_id: str, subject: str) -> bool:
    return held.count(tenant_id, subject) == 0
