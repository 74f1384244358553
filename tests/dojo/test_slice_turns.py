"""dojo/slice_turns.py: connections with a backlog take turns, a few slices per turn of the event loop, so
that the loop serves its other work (the Redis link's replies, timers) between two turns."""

from __future__ import annotations

import asyncio
import time

import pytest

from dojo.slice_turns import SliceTurns, turns_of
from tests.conftest import wait_until


def _work(seconds: float) -> None:
    """Handling frames that takes `seconds` (of the loop's time: nothing else runs meanwhile)."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        pass


class Backlogged:
    """A connection with `slices` slices to handle; each one is recorded in `log`."""

    def __init__(self, turns: SliceTurns, name: str, slices: int, log: list[str]) -> None:
        self.turns, self.name, self.left, self.log = turns, name, slices, log

    def run_slice(self) -> None:
        self.log.append(self.name)
        self.left -= 1
        if self.left:
            self.turns.add(self)


async def test_connections_take_turns_in_order_and_the_loop_serves_others_between_turns() -> None:
    loop = asyncio.get_running_loop()
    turns = SliceTurns(loop, per_turn=2)
    log: list[str] = []
    for name, slices in (("a", 2), ("b", 2), ("c", 1)):
        turns.add(Backlogged(turns, name, slices, log))
    loop.call_soon(lambda: log.append("|"))  # other work, queued after the first turn
    assert turns.waiting == 3
    await wait_until(lambda: turns.waiting == 0 and len(log) == 6, what="every slice")
    # Two slices a turn: a and b, then the other work, then c before a and b again (they queued behind it).
    assert log == ["a", "b", "|", "c", "a", "b"]


async def test_reads_handled_at_once_queue_once_their_time_is_spent_until_the_loop_runs_its_callbacks() -> None:
    loop = asyncio.get_running_loop()
    turns = SliceTurns(loop, read_seconds=0.001)
    assert not turns.busy()  # the first read handled at once starts the time
    _work(0.002)  # reads that took longer than the phase may
    assert turns.busy()
    await asyncio.sleep(0)  # the loop ran its callbacks: a new phase of reads
    assert not turns.busy()
    log: list[str] = []
    turns.add(Backlogged(turns, "a", 1, log))
    assert turns.busy(), "a connection waits: reads queue behind it"
    await wait_until(lambda: log == ["a"], what="the waiting slice")


async def test_a_failing_slice_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.get_running_loop()
    turns = SliceTurns(loop)
    log: list[str] = []

    class Failing:
        def run_slice(self) -> None:
            raise RuntimeError("boom")

    turns.add(Failing())
    turns.add(Backlogged(turns, "after", 1, log))
    await wait_until(lambda: log == ["after"], what="the slice after the failing one")
    assert "a collab connection's slice failed" in caplog.text and "boom" in caplog.text


async def test_each_loop_has_its_own_turns() -> None:
    loop = asyncio.get_running_loop()
    assert turns_of(loop) is turns_of(loop)
    other = asyncio.new_event_loop()
    try:
        assert turns_of(other) is not turns_of(loop)
    finally:
        other.close()
    with pytest.raises(ValueError, match="per_turn"):
        SliceTurns(loop, per_turn=0)
    with pytest.raises(ValueError, match="read_seconds"):
        SliceTurns(loop, read_seconds=0)
