"""Test doubles for the room engine: a `Channel` that records what it is sent, pycrdt clients that
produce real updates, and extensions that record their hooks."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from typing import Any

from pycrdt import Doc, Text, TransactionEvent

from crdt import (
    AwarenessEntry,
    AwarenessEvent,
    AwarenessMessage,
    ChangeEvent,
    CloseCode,
    Message,
    Outbound,
    Room,
    RoomExtension,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    decode_message,
    encode_awareness,
    encode_sync_step1,
    encode_sync_step2,
    encode_sync_update,
)

_keys = itertools.count(1)

EMPTY_STEP1 = bytes.fromhex("00000100")


class FakeChannel:
    """A `Channel` that records every `Outbound`, bounded like a real transport's backlog: past
    `bound` queued messages it closes itself with TRY_AGAIN_LATER. `on_close` mimics the transport
    telling the room it left."""

    def __init__(
        self,
        *,
        bound: int = 10_000,
        raises: bool = False,
        on_close: Callable[[FakeChannel], None] | None = None,
    ) -> None:
        self.key = next(_keys)
        self.bound = bound
        self.raises = raises
        self.on_close = on_close
        self.sent: list[Outbound] = []
        self.closed: tuple[int, str] | None = None
        self.reading = True  # `crdt.ReadControl`: False while the room paused reading it

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def send(self, message: Outbound) -> None:
        if self.raises:
            raise RuntimeError("this channel's send is broken")
        if self.closed is not None:
            return
        if len(self.sent) >= self.bound:
            self.close(CloseCode.TRY_AGAIN_LATER, "backlog over its bound")
            return
        self.sent.append(message)

    def close(self, code: int, reason: str = "") -> None:
        if self.closed is None:
            self.closed = (code, reason)
            if self.on_close is not None:
                self.on_close(self)

    @property
    def close_code(self) -> int | None:
        return None if self.closed is None else self.closed[0]

    def messages(self) -> list[Message]:
        return [decode_message(out.payload) for out in self.sent]

    def payloads(self) -> list[bytes]:
        return [out.payload for out in self.sent]

    def take(self) -> list[Outbound]:
        """What was sent since the last take."""
        out, self.sent = self.sent, []
        return out

    def __repr__(self) -> str:
        return f"FakeChannel({self.key}, {len(self.sent)} sent, closed={self.closed})"


class Client:
    """A y-websocket client's document: real pycrdt edits, producing real updates and frames."""

    def __init__(self, channel: FakeChannel | None = None) -> None:
        self.channel = channel if channel is not None else FakeChannel()
        self.doc: Doc[Any] = Doc()
        self.text = self.doc.get("text", type=Text)
        self.local_updates: list[bytes] = []
        self._applying = False
        self.doc.observe(self._on_change)

    def _on_change(self, event: TransactionEvent) -> None:
        if not self._applying:
            self.local_updates.append(event.update)

    def insert(self, index: int, chunk: str) -> bytes:
        """Edit locally; return the update frame to send to the server."""
        self.text.insert(index, chunk)
        return encode_sync_update(self.local_updates[-1])

    def append(self, chunk: str) -> bytes:
        return self.insert(len(self.text), chunk)

    def delete(self, start: int, end: int) -> bytes:
        del self.text[start:end]
        return encode_sync_update(self.local_updates[-1])

    def step1(self) -> bytes:
        return encode_sync_step1(self.doc.get_state())

    def step2_for(self, state_vector: bytes) -> bytes:
        return encode_sync_step2(self.doc.get_update(state_vector))

    def apply(self, update: bytes) -> None:
        self._applying = True
        try:
            self.doc.apply_update(update)
        finally:
            self._applying = False

    def catch_up(self) -> list[Message]:
        """Take every message the channel received (see `FakeChannel.take`), apply the sync ones;
        return them all."""
        messages = [decode_message(out.payload) for out in self.channel.take()]
        for msg in messages:
            if isinstance(msg, SyncStep2 | SyncUpdate):
                self.apply(msg.update)
        return messages

    @property
    def content(self) -> str:
        return str(self.text)


def sync_client(room: Room, client: Client) -> None:
    """The v3 client's half of the handshake: answer the server's step1, send our own step1, apply
    the answer."""
    msgs = client.catch_up()
    server_step1 = next(m for m in msgs if isinstance(m, SyncStep1))
    room.receive(client.channel, client.step2_for(server_step1.state_vector))
    room.receive(client.channel, client.step1())
    client.catch_up()


def document_text(update: bytes) -> str:
    doc: Doc[Any] = Doc()
    doc.apply_update(update)
    return str(doc.get("text", type=Text))


def awareness_frame(*entries: tuple[int, int, str]) -> bytes:
    return encode_awareness(AwarenessEntry(cid, clock, state) for cid, clock, state in entries)


def awareness_entries(payload: bytes) -> tuple[AwarenessEntry, ...]:
    msg = decode_message(payload)
    assert isinstance(msg, AwarenessMessage)
    return msg.entries


class Recorder(RoomExtension):
    """Records every hook call; optional failures and delays to exercise the room and manager."""

    def __init__(self, *, priority: int = 100, loads: Sequence[bytes] = ()) -> None:
        self.priority = priority
        self.loads = list(loads)
        self.load_calls: list[str] = []
        self.load_delay = 0.0
        self.load_failures = 0  # how many on_load calls raise before one succeeds
        self.changes: list[ChangeEvent] = []
        self.awareness: list[AwarenessEvent] = []
        self.unload_calls: list[str] = []
        self.unload_failures = 0
        self.unload_gate: asyncio.Event | None = None
        self.shutdowns = 0
        self.starts = 0
        self.start_failure: Exception | None = None
        self.raise_on_change = False

    async def on_start(self) -> None:
        self.starts += 1
        if self.start_failure is not None:
            raise self.start_failure

    async def on_load(self, room_name: str) -> Sequence[bytes]:
        self.load_calls.append(room_name)
        if self.load_delay:
            await asyncio.sleep(self.load_delay)
        if self.load_failures:
            self.load_failures -= 1
            raise OSError("the store is down")
        return list(self.loads)

    def on_change(self, event: ChangeEvent) -> None:
        self.changes.append(event)
        if self.raise_on_change:
            raise RuntimeError("on_change is broken")

    def on_awareness(self, event: AwarenessEvent) -> None:
        self.awareness.append(event)

    async def before_unload(self, room: Room) -> None:
        self.unload_calls.append(room.name)
        if self.unload_gate is not None:
            await self.unload_gate.wait()
        if self.unload_failures:
            self.unload_failures -= 1
            raise OSError("cannot flush right now")

    async def on_shutdown(self) -> None:
        self.shutdowns += 1
