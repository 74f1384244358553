"""Micro-benchmark of the room's hot path: 1 room × N fake channels, real keystroke updates.

    .venv/bin/python bench/room_micro.py [--channels 200] [--updates 5000] [--repeat 5]

Prints µs per delivery (one message handed to one channel) for:

* ``room.receive``: the shipped path — decode, apply with pycrdt, observe the effective change,
  broadcast one shared `Outbound` (the received frame, when it is exactly the change).
* ``relay baseline``: the alternative — apply without observing, broadcast the received frame as
  is (what a server that relays every update, duplicates included, would do).
* ``fan-out loop only``: ``for ch in channels: ch.send(out)``, the floor.
* ``awareness``: cursor updates through ``room.receive``.

The fake channel does what a real transport's ``send`` does at least: append to a bounded queue.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pycrdt import Doc, Text

from crdt import (
    AwarenessEntry,
    CloseCode,
    Outbound,
    Room,
    SyncUpdate,
    decode_message,
    encode_awareness,
    encode_sync_update,
)

TRACE = Path(__file__).resolve().parents[2] / "shared" / "data" / "editing-traces" / "automerge-paper.json.gz"


class BenchChannel:
    """The least a transport's `send` does: a bounded queue append."""

    __slots__ = ("closed", "key", "queue")

    bound = 1 << 30

    def __init__(self, key: int) -> None:
        self.key = key
        self.queue: list[Outbound] = []
        self.closed = False

    def send(self, message: Outbound) -> None:
        if self.closed:
            return
        queue = self.queue
        queue.append(message)
        if len(queue) > self.bound:
            self.close(CloseCode.TRY_AGAIN_LATER)

    def close(self, code: int, reason: str = "") -> None:
        self.closed = True


def keystroke_frames(count: int) -> list[bytes]:
    """Update frames of one author typing (the automerge-paper trace if present, else synthetic)."""
    doc: Doc[Any] = Doc()
    text = doc.get("text", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    if TRACE.exists():
        with gzip.open(TRACE) as fh:
            trace = json.load(fh)
        for txn in trace["txns"]:
            for pos, deleted, inserted in txn["patches"]:
                if deleted:
                    del text[pos : pos + deleted]
                if inserted:
                    text.insert(pos, inserted)
            if len(updates) >= count:
                break
    else:
        for i in range(count):
            text.insert(len(text) if i % 11 else 0, "x")
    return [encode_sync_update(update) for update in updates[:count]]


def update_of(frame: bytes) -> bytes:
    msg = decode_message(frame)
    assert isinstance(msg, SyncUpdate)
    return msg.update


def timed(run: Callable[[], None], reset: Callable[[], None], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        reset()
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
        gc.enable()
    return samples


def report(label: str, samples: list[float], deliveries: int, messages: int) -> None:
    best = min(samples)
    median = statistics.median(samples)
    print(
        f"{label:<28} {best / deliveries * 1e6:7.3f} µs/delivery (median {median / deliveries * 1e6:.3f})"
        f"  {messages / best:>10,.0f} msgs/s  {deliveries / best:>12,.0f} deliveries/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    frames = keystroke_frames(args.updates)
    n, ch = len(frames), args.channels
    deliveries = n * ch
    print(f"1 room × {ch} channels, {n} keystroke updates ({sum(map(len, frames)) / n:.0f} B avg)")

    state: dict[str, Any] = {}

    def fresh_room() -> None:
        room = Room("bench")
        channels = [BenchChannel(i) for i in range(ch)]
        for channel in channels:
            room.add(channel)
            channel.queue.clear()
        state["room"], state["channels"] = room, channels

    def run_room() -> None:
        room, sender = state["room"], state["channels"][0]
        receive = room.receive
        for frame in frames:
            receive(sender, frame)

    report("room.receive (shipped)", timed(run_room, fresh_room, args.repeat), deliveries, n)
    assert len(state["channels"][-1].queue) == n
    assert state["room"].stats.deliveries == deliveries

    updates = [update_of(frame) for frame in frames]

    def fresh_relay() -> None:
        state["doc"] = Doc()
        state["channels"] = [BenchChannel(i) for i in range(ch)]

    def run_relay() -> None:
        doc, channels = state["doc"], state["channels"]
        for frame, update in zip(frames, updates, strict=True):
            decode_message(frame)
            doc.apply_update(update)
            out = Outbound(frame)
            for channel in channels:
                channel.send(out)

    report("relay baseline (no observe)", timed(run_relay, fresh_relay, args.repeat), deliveries, n)

    def run_loop() -> None:
        channels = state["channels"]
        for frame in frames:
            out = Outbound(frame)
            for channel in channels:
                channel.send(out)

    report("fan-out loop only", timed(run_loop, fresh_relay, args.repeat), deliveries, n)

    def run_apply_only() -> None:
        room, sender = state["room"], state["lonely"]
        for frame in frames:
            room.receive(sender, frame)

    def fresh_lonely() -> None:
        room = Room("bench")
        lonely = BenchChannel(0)
        room.add(lonely)  # only the sender: decode + apply + observe + one delivery
        state["room"], state["lonely"] = room, lonely

    apply_samples = timed(run_apply_only, fresh_lonely, args.repeat)
    assert len(state["lonely"].queue) == n + 1
    print(f"{'room.receive, 1 channel':<28} {min(apply_samples) / n * 1e6:7.3f} µs/update")

    def fresh_docs() -> None:
        state["plain"], state["observed"] = Doc(), Doc()
        state["observed"].observe(lambda event: event.update)

    def run_plain() -> None:
        doc = state["plain"]
        for update in updates:
            doc.apply_update(update)

    def run_observed() -> None:
        doc = state["observed"]
        for update in updates:
            doc.apply_update(update)

    plain = min(timed(run_plain, fresh_docs, args.repeat)) / n * 1e6
    observed = min(timed(run_observed, fresh_docs, args.repeat)) / n * 1e6
    print(
        f"{'observer cost':<28} {observed - plain:7.3f} µs/update = {(observed - plain) / ch:.4f} µs/delivery"
        f" (apply {plain:.2f} µs, apply+observe {observed:.2f} µs)"
    )

    cursors = [encode_awareness([AwarenessEntry(7, clock, f'{{"cursor":{clock}}}')]) for clock in range(1, n + 1)]

    def run_awareness() -> None:
        room, sender = state["room"], state["channels"][0]
        for frame in cursors:
            room.receive(sender, frame)

    report("awareness room.receive", timed(run_awareness, fresh_room, args.repeat), deliveries, n)


if __name__ == "__main__":
    main()
