"""The engine's long-lived loops run on the host the service gives it (its supervisor): a crashing loop
is logged with its name and restarted; used alone, a crash is logged with its name."""

from __future__ import annotations

import logging

import pytest

from crdt import FanoutExtension, LocalTasks
from runtime.supervisor import Supervisor
from tests.conftest import wait_until
from tests.crdt.test_fanout import MemoryBus, MemoryLog


class _TrippingBus(MemoryBus):
    """A bus whose `connected` raises the first time the fan-out's maintenance loop asks."""

    def __init__(self, log: MemoryLog, node: str) -> None:
        super().__init__(log, node)
        self.asked = 0

    @property
    def connected(self) -> bool:
        self.asked += 1
        if self.asked == 1:
            raise RuntimeError("the bus tripped")
        return self.up


async def test_a_crashing_engine_loop_is_logged_and_restarted_by_the_service_supervisor(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="runtime.supervisor")
    bus = _TrippingBus(MemoryLog(), "a")
    async with Supervisor("dojo") as supervisor:
        fanout = FanoutExtension(bus, anti_entropy_seconds=0.05, tasks=supervisor)
        await fanout.on_start()
        assert "crdt-fanout" in supervisor.names
        await wait_until(lambda: bus.asked >= 3, what="the loop ran again after its crash")
        assert "crdt-fanout" in supervisor.names
        await fanout.on_shutdown()
    crashes = [r for r in caplog.records if "crdt-fanout" in r.getMessage()]
    assert crashes and crashes[0].exc_info is not None


async def test_used_alone_a_crashing_loop_is_logged_with_its_name(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="crdt.tasks")

    async def broken() -> None:
        raise ValueError("boom")

    task = LocalTasks().start("crdt-probe", broken)
    with pytest.raises(ValueError, match="boom"):
        await task
    assert task.get_name() == "crdt-probe"
    assert any("crdt-probe" in r.getMessage() and r.exc_info for r in caplog.records)
