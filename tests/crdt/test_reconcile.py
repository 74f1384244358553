"""Reconciliation with the store (`crdt.reconcile.StoreReconciler`): what the store holds and a room lacks
reaches the room and its connections; a room that has it all changes nothing; a stored update that
cannot be read is logged and does not keep the others out."""

from __future__ import annotations

import logging

import pytest

from crdt import Room, StorageOrigin
from crdt.reconcile import StoreReconciler
from crdt.store import MemoryStore
from tests.crdt.fakes import Client, FakeChannel, Recorder, document_text, sync_client


async def _stored(texts: str) -> tuple[MemoryStore, list[bytes]]:
    author = Client()
    for text in texts:
        author.append(text)
    store = MemoryStore()
    await store.append("r", author.local_updates)
    return store, author.local_updates


def _room_with_watcher(recorder: Recorder) -> tuple[Room, Client]:
    room = Room("r", extensions=[recorder])
    watcher = Client(FakeChannel())
    room.add(watcher.channel)
    sync_client(room, watcher)
    return room, watcher


async def test_what_the_store_holds_beyond_the_room_reaches_it_and_its_connections() -> None:
    store, updates = await _stored("abcdef")
    recorder = Recorder()
    room, watcher = _room_with_watcher(recorder)
    room.apply_server_update(updates[0], StorageOrigin())  # what the room had when it loaded
    recorder.changes.clear()
    watcher.catch_up()

    await StoreReconciler(store, interval=3600).reconcile(room)

    assert len(recorder.changes) == 5  # one per stored update the room lacked
    assert all(isinstance(change.origin, StorageOrigin) for change in recorder.changes)
    assert document_text(room.state_update()) == "abcdef"
    watcher.catch_up()
    assert watcher.content == "abcdef"


async def test_a_room_that_holds_everything_stored_changes_nothing() -> None:
    store, _ = await _stored("abc")
    recorder = Recorder()
    room, watcher = _room_with_watcher(recorder)
    reconciler = StoreReconciler(store, interval=3600)
    await reconciler.reconcile(room)
    recorder.changes.clear()
    watcher.catch_up()

    await reconciler.reconcile(room)

    assert recorder.changes == []
    assert watcher.catch_up() == []


async def test_a_stored_update_that_cannot_be_read_is_logged_and_the_others_still_apply(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, updates = await _stored("xyz")
    store_with_garbage = MemoryStore()
    await store_with_garbage.append("r", [updates[0], b"\x01\x02\x03", *updates[1:]])
    room, _ = _room_with_watcher(Recorder())

    with caplog.at_level(logging.WARNING, logger="crdt.reconcile"):
        await StoreReconciler(store_with_garbage, interval=3600).reconcile(room)

    assert document_text(room.state_update()) == "xyz"
    messages = [r.getMessage() for r in caplog.records]
    assert sum("a stored update was refused" in m for m in messages) == 1
