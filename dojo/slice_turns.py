"""Turns of the event loop for the collab connections' sliced reads (`dojo.fastpath`).

Theory of operation. A connection handles a read that brought many frames in slices of
`dojo.fastpath.FRAMES_PER_SLICE`, its socket not read meanwhile. Had each connection scheduled its next
slice itself (`loop.call_soon`), every connection with a backlog would run a slice in the *same* turn of
the loop: on an overloaded node, hundreds of connections × 64 frames made turns of one to two seconds,
and the node's own Redis link, whose replies are read between two turns, timed out (2 s) and dropped —
every room then resynchronized, more load again. Here the connections with a backlog wait in one queue,
in order, and each turn of the loop runs the slices of at most `SLICES_PER_TURN` of them; between two
turns the loop reads its sockets (Redis replies included) and runs its timers. While some wait, a
connection whose read comes queues behind them instead of being served first — and so does one whose
read comes once the reads handled at once since the loop last ran its callbacks took `READ_SECONDS`
(`SliceTurns.busy`): the loop's reading phase calls every readable connection in a row, and at the
start of a burst (no one waiting yet) two hundred connections × 64 frames made phases of 2-3.5 s.
(Turns themselves are bounded by count, not time: 32 slices of 64 frames make turns of ~0.6 s of wall
time on a saturated node sharing 2 CPUs with two others, and that batching is what its throughput past
saturation rests on — 10 ms turns kept the loop's lag under 0.2 s but cost 20-30 % of the throughput.)
One `SliceTurns` per event loop (`turns_of`); nothing runs while no connection has a backlog.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import deque
from typing import Protocol

__all__ = ["READ_SECONDS", "SLICES_PER_TURN", "SliceTurns", "Sliced", "turns_of"]

log = logging.getLogger("dojo.slice_turns")

SLICES_PER_TURN = 32
"""Connections whose slice runs in one turn of the loop (a slice is at most 64 frames: ~2,000 frames a turn)."""
READ_SECONDS = 0.01
"""Reads handled at once between two runs of the loop's callbacks, in wall time; later reads queue."""


class Sliced(Protocol):
    """A connection with a backlog: `run_slice` handles its next slice, and queues it again (`add`) if
    frames are left."""

    def run_slice(self) -> None: ...


class SliceTurns:
    """The queue of connections waiting for a slice, served `per_turn` at a time (see module doc)."""

    __slots__ = ("_direct_ends", "_loop", "_scheduled", "_waiting", "per_turn", "read_seconds")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, per_turn: int = SLICES_PER_TURN, read_seconds: float = READ_SECONDS
    ) -> None:
        if per_turn < 1:
            raise ValueError("per_turn must be at least 1")
        if read_seconds <= 0:
            raise ValueError("read_seconds must be positive")
        self._loop = loop
        self._waiting: deque[Sliced] = deque()
        self._scheduled = False
        self.per_turn = per_turn
        self.read_seconds = read_seconds
        self._direct_ends: float | None = None  # while reads are handled at once: when that must stop

    def busy(self) -> bool:
        """Whether a read that comes now must queue for a turn (`add`) rather than be handled at once:
        connections wait already, or the reads handled at once since the loop last ran its callbacks
        took `read_seconds`."""
        if self._waiting:
            return True
        ends = self._direct_ends
        if ends is None:
            self._direct_ends = time.monotonic() + self.read_seconds
            self._loop.call_soon(self._end_direct)
            return False
        return time.monotonic() >= ends

    def _end_direct(self) -> None:
        self._direct_ends = None

    @property
    def waiting(self) -> int:
        """Connections waiting for their slice."""
        return len(self._waiting)

    def add(self, conn: Sliced) -> None:
        """Queue `conn` for a slice, after those already waiting."""
        self._waiting.append(conn)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._turn)

    def _turn(self) -> None:
        self._scheduled = False
        waiting = self._waiting
        for _ in range(min(self.per_turn, len(waiting))):  # those queued again during this turn wait for the next
            conn = waiting.popleft()
            try:
                conn.run_slice()
            except Exception:  # one connection's failure must not stall the others' backlogs
                log.exception("a collab connection's slice failed")
        if waiting and not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._turn)


_TURNS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SliceTurns] = weakref.WeakKeyDictionary()


def turns_of(loop: asyncio.AbstractEventLoop) -> SliceTurns:
    """The turns of `loop`'s collab connections (made at first use; they go with the loop)."""
    turns = _TURNS.get(loop)
    if turns is None:
        turns = _TURNS[loop] = SliceTurns(loop)
    return turns
