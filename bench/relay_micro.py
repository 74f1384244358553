"""The path of another node's change through a node, in a tight loop: a log message as Redis pushes it
(`dojo.redis_bus.APPEND_SCRIPT`'s format) → `RedisBus._on_entry` → `FanoutExtension` → `Room.relay` →
the gate → 17 connections (the share of one node of three in the 50-client fan-out), the relayed changes
integrated every 16.

    .venv/bin/python bench/relay_micro.py [--entries 5000] [--channels 17] [--repeat 5]

Prints CPU per entry (this process, best of the repeats). The running node spends ~3x this per entry
(`bench/README_cluster.md`, eleventh session: its caches are shared with five other processes on two
cores); this is the figure to compare versions of the path with, quickly. No socket, no Redis: the bus
is made on a link that is never opened, and the room is wired as `FanoutExtension.on_loaded` wires it.
"""

from __future__ import annotations

import argparse
import gc
import time

import uvloop
from room_micro import BenchChannel, keystroke_frames, update_of

from crdt import Room
from crdt.fanout import FanoutExtension, _Gate
from dojo.redis_bus import RedisBus, _Followed
from runtime.redis_link import RedisLink

BASE_MS = 1_765_000_000_000


def log_message(previous: bytes, entry: bytes, node: bytes, payload: bytes) -> bytes:
    """A log message as `APPEND_SCRIPT` publishes it: header line, then the fields back to back."""
    fields = [b"n", node, b"k", b"u", b"p", payload]
    return b" ".join([previous, entry, *(b"%d" % len(f) for f in fields)]) + b"\n" + b"".join(fields)


async def run(entries: int, channels: int, repeat: int) -> float:
    updates = [update_of(frame) for frame in keystroke_frames(entries)]
    messages = []
    previous = b"0-0"
    for i, update in enumerate(updates):
        entry = b"%d-0" % (BASE_MS + i)
        messages.append(log_message(previous, entry, b"node-a", update))
        previous = entry
    link = RedisLink("redis://127.0.0.1:1/0")  # never opened
    bus = RedisBus(link, node_id="node-b")
    fanout = FanoutExtension(bus)
    best = float("inf")
    for _ in range(repeat):
        room = Room("bench")
        for key in range(channels):
            room.add(BenchChannel(key))
        fanout._rooms["bench"] = room
        gate = _Gate(fanout, 256)
        fanout._gates["bench"] = gate
        room.set_gate(gate)
        bus._followed["bench"] = _Followed(last=b"0-0", catching=False)
        on_entry = bus._on_entry
        gc.collect()
        start = time.process_time()
        for i, message in enumerate(messages):
            on_entry("bench", message)
            if i % 16 == 15:
                room.integrate()
        room.integrate()
        best = min(best, time.process_time() - start)
        if bus._followed["bench"].last != previous:
            raise SystemExit("not every entry was delivered")
    return best / len(messages) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--channels", type=int, default=17)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    per_entry = uvloop.run(run(args.entries, args.channels, args.repeat))
    print(
        f"another node's change through this node: {per_entry:.2f} µs CPU per entry "
        f"({args.entries} keystrokes, {args.channels} connections, best of {args.repeat})"
    )


if __name__ == "__main__":
    main()
