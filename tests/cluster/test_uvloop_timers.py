"""Found by the cluster benchmark: under load, saves are due in the past, and uvloop — the event loop
`pocdojo serve` runs — answers ``call_at`` with a past time with a plain ``Handle`` (no ``when()``),
where asyncio's loop always returns a ``TimerHandle``. The persistence extension's timer logic must
work with both; here it runs under uvloop with saves due at once."""

from __future__ import annotations

import asyncio
import logging

import pycrdt
import pytest
import uvloop

from crdt import PersistenceExtension, RoomManager
from crdt.channel import ServerOrigin
from crdt.store import MemoryStore


def _updates(n: int) -> list[bytes]:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc()
    text = doc.get("text", type=pycrdt.Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for i in range(n):
        text += f"<{i}>"
    return updates


async def _edit_with_saves_due_at_once() -> str:
    store = MemoryStore()
    # debounce 0: every change is due for saving at once — as every change is when saves lag behind.
    persistence = PersistenceExtension(store, debounce=0.0, max_delay=0.0)
    async with RoomManager([persistence]) as rooms:
        for update in _updates(20):  # several changes in one tick: the first arms a timer due "now"
            await rooms.apply_server_update("room", update, ServerOrigin())
        await persistence.flush("room")
    merged = pycrdt.Doc()
    for update in store.log("room"):
        merged.apply_update(update)
    return str(merged.get("text", type=pycrdt.Text))


def test_persistence_timers_under_uvloop_with_saves_due_at_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    text = uvloop.run(_edit_with_saves_due_at_once())
    assert text == "".join(f"<{i}>" for i in range(20))
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() + (r.exc_text or "")[-300:] for r in errors[:3]]


def test_the_same_under_asyncio_passes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with asyncio.Runner() as runner:
        text = runner.run(_edit_with_saves_due_at_once())
    assert text == "".join(f"<{i}>" for i in range(20))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
