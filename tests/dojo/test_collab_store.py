"""The PostgreSQL document store: load/append/compact, coordination, and a stuck reader."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from typing import Any

import httpx
import pytest
from pycrdt import Doc, Text

from crdt import merge_updates
from deploy.local import DatabaseUrls
from dojo.docstore import BadRoomKey, PostgresDocumentStore, room_key
from dojo.services import services_of as dojo_services
from runtime.db import Database
from tests.dojo.conftest import CollabServer, scrape, value
from tests.dojo.yclient import PyClient


def _edits(n: int) -> list[bytes]:
    doc: Doc[Any] = Doc(client_id=7)
    text = doc.get("text", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for i in range(n):
        text.insert(len(text), f"{i},")
    return updates


def _text(updates: list[bytes]) -> str:
    doc: Doc[Any] = Doc()
    for update in updates:
        doc.apply_update(update)
    return str(doc.get("text", type=Text))


async def test_store_round_trip_and_compaction(database: DatabaseUrls) -> None:
    tenant = uuid.uuid4()
    name = room_key(tenant, "doc")
    async with Database(database.service) as db:
        store = PostgresDocumentStore(db)
        assert await store.load(name) == []
        updates = _edits(50)
        await store.append(name, updates[:20])
        await store.append(name, updates[20:])
        loaded = await store.load(name)
        assert loaded == updates
        assert await store.compact(name) is True
        compacted = await store.load(name)
        assert len(compacted) == 1
        assert _text(compacted) == _text(updates)
        await store.append(name, _edits(60)[50:])
        assert _text(await store.load(name)) == _text(_edits(60))
        # Another tenant sees nothing of it, even with the same room name.
        assert await store.load(room_key(uuid.uuid4(), "doc")) == []
        with pytest.raises(BadRoomKey):
            await store.load("no-tenant-here")


async def test_only_one_compaction_at_a_time(database: DatabaseUrls) -> None:
    tenant = uuid.uuid4()
    name = room_key(tenant, "busy")
    async with Database(database.service, max_size=4) as db:
        store = PostgresDocumentStore(db)
        await store.append(name, _edits(10))
        async with db.tenant_tx(tenant) as conn:
            # Another process holds the document's compaction lock...
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('crdt.compact'), hashtext($1))", name)
            assert await store.compact(name) is False
        assert await store.compact(name) is True


async def test_appends_during_compaction_are_never_lost(database: DatabaseUrls) -> None:
    tenant = uuid.uuid4()
    name = room_key(tenant, "racing")
    updates = _edits(200)
    async with Database(database.service, max_size=6) as db:
        store = PostgresDocumentStore(db)

        async def writer() -> None:
            for i in range(0, 200, 5):
                await store.append(name, updates[i : i + 5])
                await asyncio.sleep(0)

        async def compactor() -> None:
            for _ in range(20):
                await store.compact(name)
                await asyncio.sleep(0)

        await asyncio.gather(writer(), compactor())
        assert _text(await store.load(name)) == _text(updates)


async def test_compacted_size_is_close_to_the_merged_document(database: DatabaseUrls) -> None:
    tenant = uuid.uuid4()
    name = room_key(tenant, "size")
    updates = _edits(2000)
    async with Database(database.service) as db:
        store = PostgresDocumentStore(db)
        await store.append(name, updates)
        before = await store.stored_bytes(name)
        await store.compact(name)
        after = await store.stored_bytes(name)
    merged = len(merge_updates(updates))
    assert after <= 2 * merged
    assert before > after


async def test_a_client_that_stops_reading_never_stalls_the_room(
    make_settings,
    http: httpx.AsyncClient,  # type: ignore[no-untyped-def]
) -> None:
    server = CollabServer(make_settings, overrides={"collab_max_backlog_bytes": 64 * 1024})
    await server.start()
    stack = contextlib.ExitStack()
    try:
        async with httpx.AsyncClient(base_url=server.base) as client:
            user = await server.user(client)
            before = await scrape(client)
        # A raw socket that completes the handshake and then never reads again.
        stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
        stuck.connect(("127.0.0.1", server.port))
        stack.callback(stuck.close)
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        stuck.sendall(
            (
                f"GET /v1/collab/stall HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {user.access_token}\r\n\r\n"
            ).encode()
        )
        async with (
            PyClient.connect(f"{server.ws_url}/stall", headers=user.auth) as writer,
            PyClient.connect(f"{server.ws_url}/stall", headers=user.auth) as reader,
        ):
            await asyncio.wait_for(writer.synced.wait(), 5)
            await asyncio.wait_for(reader.synced.wait(), 5)
            chunk = "x" * 10_000
            # ~8 MB through the room: more than the kernel's socket buffers can absorb for the stuck
            # client, so its backlog grows in the server past the 64 kB budget.
            for i in range(800):
                writer.text.insert(len(writer.text), chunk)
                if i % 20 == 0:
                    await asyncio.sleep(0.001)
            await reader.wait_text(chunk * 800, within=60)
            room = dojo_services(server.dojo_app).manager.get(room_key(user.tenant_id, "stall"))
            assert room is not None
            assert len(room.channels) == 2  # the stuck connection was dropped
            async with httpx.AsyncClient(base_url=server.base) as client:
                after = await scrape(client)
            slow = "pocdojo_collab_slow_client_closes_total"
            assert value(after, slow) == value(before, slow) + 1
            stuck.settimeout(5)
            assert stuck.recv(1)  # it did get the handshake and the start of the stream
    finally:
        stack.close()
        await server.stop()
