"""The supervisor of background tasks (`runtime.supervisor`): crashes are logged with the task's name and
restarted or turned into unreadiness, and shutdown is ordered and bounded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from runtime.http import create_service_app
from runtime.root import ServiceRoot
from runtime.settings import Settings
from runtime.supervisor import Backoff, Policy, Supervisor, SupervisorClosed, TaskFailed
from tests.conftest import ServeApp, wait_until

FAST = Backoff(initial=0.01, maximum=0.05)


async def test_a_crashing_task_is_logged_with_its_name_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    runs = 0
    crashes: list[BaseException] = []

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise ValueError(f"crash {runs}")
        await asyncio.Event().wait()

    async def restarted_twice() -> bool:
        return runs >= 3

    caplog.set_level(logging.ERROR, logger="runtime.supervisor")
    async with Supervisor("svc") as supervisor:
        supervisor.start("flaky-loop", flaky, backoff=FAST, on_crash=crashes.append)
        await wait_until(restarted_twice)
        assert supervisor.names == ["flaky-loop"]
        await supervisor.check()  # restarting tasks keep the service ready
    assert [str(c) for c in crashes] == ["crash 1", "crash 2"]
    crashed = [r for r in caplog.records if "flaky-loop" in r.getMessage() and "restarting" in r.getMessage()]
    assert len(crashed) == 2
    assert all(r.exc_info is not None and isinstance(r.exc_info[1], ValueError) for r in crashed)


async def test_a_task_with_the_unready_policy_makes_readyz_answer_503(
    make_settings: Callable[..., Settings], serve: ServeApp
) -> None:
    trigger = asyncio.Event()

    async def fragile() -> None:
        await trigger.wait()
        raise RuntimeError("the consumer lost its cursor")

    async def start_fragile(root: ServiceRoot, stack: AsyncExitStack) -> None:
        root.supervisor.start("cursor-consumer", fragile, policy=Policy.UNREADY)

    def factory(base: str) -> Any:
        return create_service_app(service="probe", title="probe", settings=make_settings(), startup=[start_fragile])

    async with serve(factory) as base, httpx.AsyncClient(base_url=base) as http:
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and "tasks" in ready.json()["checks"]
        trigger.set()

        async def unready() -> bool:
            return (await http.get("/readyz")).status_code == 503

        await wait_until(unready)
        body = (await http.get("/readyz")).json()
        assert body == {"status": "unavailable", "failing": {"tasks": "TaskFailed"}}


async def test_an_unready_task_is_not_restarted_and_check_names_it() -> None:
    runs = 0

    async def once() -> None:
        nonlocal runs
        runs += 1
        raise KeyError("gone")

    async def failed() -> bool:
        return bool(supervisor.failed)

    async with Supervisor("svc") as supervisor:
        supervisor.start("registry-sync", once, policy=Policy.UNREADY, backoff=FAST)
        await wait_until(failed)
        with pytest.raises(TaskFailed, match="registry-sync"):
            await supervisor.check()
        assert supervisor.failed == {"registry-sync": "KeyError"}
        assert supervisor.names == []
    assert runs == 1


async def test_shutdown_cancels_in_reverse_order_and_a_task_ignoring_cancellation_is_bounded() -> None:
    stopped: list[str] = []
    running: set[str] = set()
    release = asyncio.Event()

    def polite(name: str) -> Callable[[], Any]:
        async def job() -> None:
            running.add(name)
            try:
                await asyncio.Event().wait()
            finally:
                stopped.append(name)

        return job

    async def stubborn() -> None:
        running.add("stubborn")
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                stopped.append("stubborn (ignored)")

    supervisor = Supervisor("svc")
    supervisor.start("first", polite("first"))
    stubborn_task = supervisor.start("stubborn", stubborn)
    supervisor.start("last", polite("last"))

    async def all_running() -> bool:
        return running == {"first", "stubborn", "last"}

    await wait_until(all_running)
    try:
        async with asyncio.timeout(10):  # a hang fails here rather than stalling the run
            await supervisor.aclose(0.2)
        assert stopped == ["last", "stubborn (ignored)", "first"]
        assert not stubborn_task.done(), "the stubborn task ignores cancellation; shutdown went on without it"
        with pytest.raises(SupervisorClosed):
            supervisor.start("late", polite("late"))
    finally:
        release.set()
        await stubborn_task
