"""Persistence: debounced saves, retries in order, unload only when clean, compaction, merging."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import Sequence
from typing import Any

import pytest
from pycrdt import Doc, Text

from crdt import (
    EMPTY_UPDATE,
    MemoryStore,
    PersistenceError,
    PersistenceExtension,
    RemoteOrigin,
    Room,
    RoomManager,
    RoomState,
    ServerOrigin,
    StorageOrigin,
    StoreUnavailable,
    UpdateRejected,
    merge_updates,
)
from tests.conftest import wait_until
from tests.crdt.fakes import Client, document_text, sync_client
from tests.crdt.faulty_store import FaultyStore
from tests.traces import TRACES


def text_of(updates: list[bytes]) -> str:
    doc: Doc[Any] = Doc()
    for update in updates:
        doc.apply_update(update)
    return str(doc.get("text", type=Text))


def fast(store: FaultyStore, **kwargs: Any) -> PersistenceExtension:
    settings: dict[str, Any] = {"debounce": 0.05, "max_delay": 0.2, "retry_initial": 0.02, "retry_max": 0.1}
    settings.update(kwargs)
    return PersistenceExtension(store, **settings)


def standalone_room(persistence: PersistenceExtension, name: str = "doc") -> tuple[Room, Client]:
    room = Room(name, extensions=[persistence])
    client = Client()
    room.add(client.channel)
    sync_client(room, client)
    return room, client


def test_defaults_meet_the_latency_budget() -> None:
    persistence = PersistenceExtension(FaultyStore())
    assert persistence._debounce <= 1.0
    assert persistence._max_delay <= 5.0


async def test_a_change_is_saved_after_the_debounce() -> None:
    store = FaultyStore()
    persistence = fast(store)
    room, client = standalone_room(persistence)
    loop = asyncio.get_running_loop()
    start = loop.time()
    room.receive(client.channel, client.append("hello"))
    assert persistence.pending_count("doc") == 1 and persistence.is_dirty("doc")
    await asyncio.sleep(0.01)  # waits out a negative: nothing is saved before the debounce
    assert store.log("doc") == []  # not before the debounce
    await wait_until(lambda: not persistence.is_dirty("doc"))
    assert loop.time() - start >= 0.045
    assert text_of(store.log("doc")) == "hello"
    assert store.operations["append"] == 1


async def test_continuous_typing_is_saved_every_max_delay() -> None:
    store = FaultyStore()
    persistence = fast(store)
    room, client = standalone_room(persistence)
    loop = asyncio.get_running_loop()
    start = loop.time()
    saved_while_typing = False
    while loop.time() - start < 0.6:  # paces the typing (a load generator)
        room.receive(client.channel, client.append("x"))
        saved_while_typing = saved_while_typing or bool(store.log("doc"))
        await asyncio.sleep(0.01)  # faster than the debounce: only max_delay can trigger a save
    assert saved_while_typing
    await wait_until(lambda: not persistence.is_dirty("doc"))
    assert 2 <= store.operations["append"] <= 8  # batched, not one save per keystroke
    assert text_of(store.log("doc")) == client.content


async def test_changes_from_the_store_are_not_saved_again_but_other_origins_are() -> None:
    store = FaultyStore()
    persistence = fast(store, debounce=0.01)
    room = Room("doc", extensions=[persistence])
    for origin, text in ((StorageOrigin(), "s"), (ServerOrigin(), "v"), (RemoteOrigin("n2"), "r")):
        client = Client()
        client.append(text)
        room.apply_server_update(client.local_updates[-1], origin)
    assert persistence.pending_count("doc") == 2
    await wait_until(lambda: not persistence.is_dirty("doc"))
    assert sorted(text_of(store.log("doc"))) == ["r", "v"]


async def test_a_failing_store_keeps_changes_and_saves_them_in_order(caplog: pytest.LogCaptureFixture) -> None:
    store = FaultyStore()
    persistence = fast(store)
    room, client = standalone_room(persistence)
    store.fail_next(3)
    sent: list[bytes] = []
    with caplog.at_level(logging.WARNING, logger="crdt.persistence"):
        for i in range(20):
            room.receive(client.channel, client.append(f"{i},"))
            sent.append(client.local_updates[-1])
            await asyncio.sleep(0.02)
        await wait_until(lambda: not persistence.is_dirty("doc"))
    assert store.operations["append"] >= 4
    assert store.log("doc") == sent  # every change, once, in order
    assert text_of(store.log("doc")) == client.content
    failures = [r for r in caplog.records if r.name == "crdt.persistence" and r.levelno == logging.WARNING]
    assert len(failures) == 3
    assert all(r.exc_info is not None for r in failures)


async def test_flush_raises_when_the_store_fails_and_keeps_the_changes() -> None:
    store = FaultyStore()
    persistence = fast(store, debounce=10, max_delay=10)
    room, client = standalone_room(persistence)
    room.receive(client.channel, client.append("precious"))
    store.failing = True
    with pytest.raises(PersistenceError) as raised:
        await persistence.flush("doc")
    assert isinstance(raised.value.__cause__, StoreUnavailable)
    assert persistence.pending_count("doc") == 1
    store.failing = False
    await persistence.flush("doc")
    assert text_of(store.log("doc")) == "precious"


class HangingStore(MemoryStore):
    """A store whose first append never returns (a dead connection without an error)."""

    def __init__(self) -> None:
        super().__init__()
        self.hung = 0

    async def append(self, name: str, updates: Sequence[bytes]) -> None:
        if not self.hung:
            self.hung += 1
            await asyncio.Event().wait()
        await super().append(name, updates)


async def test_a_hanging_save_times_out_and_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    store = HangingStore()
    persistence = fast(store, debounce=0.01, store_timeout=0.05)
    room, client = standalone_room(persistence)
    with caplog.at_level(logging.WARNING, logger="crdt.persistence"):
        room.receive(client.channel, client.append("eventually saved"))
        await wait_until(lambda: not persistence.is_dirty("doc"))
    assert store.hung == 1
    assert text_of(store.log("doc")) == "eventually saved"
    assert "saving 1 changes failed" in caplog.text


async def test_a_dirty_room_is_not_unloaded_until_saved() -> None:
    store = FaultyStore()
    persistence = fast(store, debounce=0.01)
    async with RoomManager([persistence], idle_unload_seconds=0.02) as rooms:
        client = Client()
        room = await rooms.join("doc", client.channel)
        room.receive(client.channel, client.append("must not be lost"))
        store.failing = True
        rooms.leave(room, client.channel)
        await wait_until(lambda: store.operations["append"] >= 2)  # saves failed, and were retried
        assert rooms.get("doc") is room
        assert rooms.state_of("doc") in (RoomState.IDLE, RoomState.UNLOADING)
        assert persistence.is_dirty("doc")
        store.failing = False
        await wait_until(lambda: rooms.state_of("doc") is None)
        assert text_of(store.log("doc")) == "must not be lost"
        assert await rooms.read_state("doc") == room.state_update()


async def test_reload_includes_changes_still_queued() -> None:
    # Even if a room object were dropped while dirty, a reload must not miss queued changes.
    store = FaultyStore()
    persistence = fast(store, debounce=10, max_delay=10)
    room, client = standalone_room(persistence)
    room.receive(client.channel, client.append("queued"))
    reloaded = await persistence.on_load("doc")
    assert text_of(list(reloaded)) == "queued"


async def test_compaction_runs_in_the_background_and_keeps_the_content() -> None:
    store = FaultyStore()
    persistence = fast(store, debounce=0, max_delay=0, compact_every_updates=10)
    room, client = standalone_room(persistence)
    for i in range(35):
        room.receive(client.channel, client.append(f"<{i}>"))
        await asyncio.sleep(0.002)
    await wait_until(lambda: not persistence.is_dirty("doc"))
    await wait_until(lambda: store.operations["compact"] >= 3)
    await wait_until(lambda: len(store.log("doc")) < 10)
    assert text_of(store.log("doc")) == client.content
    await store.compact("doc")
    (snapshot,) = await store.load("doc")
    assert document_text(snapshot) == client.content == document_text(room.state_update())


async def test_a_long_stored_log_is_compacted_after_load() -> None:
    store = FaultyStore()
    writer = Client()
    await store.append("doc", [writer.append(c) and writer.local_updates[-1] for c in "abcdefgh"])
    persistence = fast(store, compact_every_updates=5)
    async with RoomManager([persistence]) as rooms:
        assert document_text(await rooms.read_state("doc")) == "abcdefgh"
        await wait_until(lambda: len(store.log("doc")) == 1)
    assert document_text(store.log("doc")[0]) == "abcdefgh"


async def test_compaction_failures_are_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    store = FaultyStore()
    persistence = fast(store, debounce=0, max_delay=0, compact_every_updates=3)
    room, client = standalone_room(persistence)
    store.fail_next(2, operations=["compact"])
    with caplog.at_level(logging.WARNING, logger="crdt.persistence"):
        for c in "abcd":
            room.receive(client.channel, client.append(c))
            await asyncio.sleep(0.005)
        await wait_until(lambda: len(store.log("doc")) == 1)
    assert store.operations["compact"] == 3
    assert caplog.text.count("compaction failed") == 2
    assert document_text(store.log("doc")[0]) == "abcd"


async def test_memory_store_compacts_a_log_into_one_snapshot() -> None:
    store = MemoryStore()
    writer = Client()
    await store.append("doc", [writer.append(c) and writer.local_updates[-1] for c in "xyz"])
    assert len(store.log("doc")) == 3
    assert await store.compact("doc") is True
    assert len(store.log("doc")) == 1 and document_text(store.log("doc")[0]) == "xyz"
    assert await store.compact("never-stored") is True


async def test_shutdown_saves_every_room_and_retries_a_flaky_store() -> None:
    store = FaultyStore()
    persistence = fast(store, debounce=10, max_delay=10)
    rooms_and_clients = [standalone_room(persistence, f"room-{i}") for i in range(4)]
    for room, client in rooms_and_clients:
        room.receive(client.channel, client.append(room.name))
    store.fail_next(2)
    await persistence.on_shutdown()
    assert persistence.dirty_rooms() == []
    for room, _ in rooms_and_clients:
        assert text_of(store.log(room.name)) == room.name


async def test_shutdown_that_cannot_save_logs_an_error(caplog: pytest.LogCaptureFixture) -> None:
    store = FaultyStore()
    store.failing = True
    persistence = fast(store, debounce=10, max_delay=10)
    room, client = standalone_room(persistence)
    room.receive(client.channel, client.append("lost"))
    with caplog.at_level(logging.WARNING, logger="crdt.persistence"), pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await persistence.on_shutdown()
    assert "could not be saved before shutdown" in caplog.text


# -- merging ---------------------------------------------------------------------------------


def test_merge_updates_of_nothing_is_the_empty_update() -> None:
    assert merge_updates([]) == EMPTY_UPDATE
    assert text_of([EMPTY_UPDATE]) == ""


def test_merge_updates_keeps_updates_whose_dependencies_are_missing() -> None:
    writer = Client()
    a, b, c = (writer.append(x) and writer.local_updates[-1] for x in "abc")
    merged = merge_updates([a, c])  # c depends on b
    assert text_of([merged]) == "a"
    assert text_of([merged, b]) == "abc"


def test_merge_updates_rejects_garbage() -> None:
    with pytest.raises(UpdateRejected):
        merge_updates([b"\xff\xff\xff"])


def test_merge_updates_on_a_real_trace_is_the_document() -> None:
    with gzip.open(TRACES / "sveltecomponent.json.gz") as fh:
        trace = json.load(fh)
    writer = Client()
    for txn in trace["txns"][:3000]:
        with writer.doc.transaction():
            for pos, deleted, inserted in txn["patches"]:
                if deleted:
                    del writer.text[pos : pos + deleted]
                if inserted:
                    writer.text.insert(pos, inserted)
    updates = writer.local_updates
    merged = merge_updates(updates)
    assert text_of([merged]) == writer.content
    assert len(merged) < sum(map(len, updates)) / 2
    assert len(merged) == len(writer.doc.get_update())
