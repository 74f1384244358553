"""Named background tasks under one owner: crashes are logged and handled per task, shutdown is ordered.

Theory of operation. A service starts its long-lived loops with `Supervisor.start(name, job, policy)`
instead of bare `create_task`. When a job raises (anything but cancellation), the supervisor logs the
error with the task's name and then, per the task's policy:

- `Policy.RESTART`: runs the job again after a backoff (doubling from `Backoff.initial` up to
  `Backoff.maximum`, reset once the job ran for `Backoff.healthy` seconds);
- `Policy.UNREADY`: leaves it stopped and marks the supervisor unready: `check()` (a readiness probe,
  wired to `/readyz`) raises `TaskFailed` naming it from then on;
- `Policy.ONCE`: a one-off job (a reload, a write): the crash is logged, nothing more.

A job that returns normally is done. `aclose(seconds)` cancels the tasks in reverse start order, each
waited for at most the remaining time; once it is spent, the rest are cancelled together with a short
grace. A task that ignores cancellation is logged and left behind: shutdown is not held up by it.
The supervisor is an async context manager (closed with its default timeout). Every service app has
one (`ServiceRoot.supervisor`, checked by `/readyz` as "tasks"); long-lived components own theirs.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("runtime.supervisor")
_GRACE_SECONDS = 0.1
"""Once the shutdown timeout is spent, how long the tasks not yet stopped get, together, after their
cancellation."""

Job = Callable[[], Awaitable[None]]
CrashHook = Callable[[BaseException], None]


class SupervisorError(RuntimeError):
    """Base of the supervisor's errors."""


class TaskFailed(SupervisorError):
    """A task whose policy is `UNREADY` crashed: the service is not ready."""


class SupervisorClosed(SupervisorError):
    """A task was started on a supervisor that is closing or closed."""


class Policy(enum.Enum):
    RESTART = "restart"
    """Run the job again after a backoff."""
    UNREADY = "unready"
    """Leave the job stopped and make the service unready."""
    ONCE = "once"
    """A one-off job: log the crash, do not run it again."""


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.1
    maximum: float = 5.0
    healthy: float = 30.0
    """A job that ran this long before crashing restarts after `initial` again."""

    def next(self, previous: float) -> float:
        return self.initial if previous <= 0 else min(self.maximum, previous * 2)


class Supervisor:
    """Owns named background tasks (see module doc)."""

    def __init__(self, name: str, *, shutdown_timeout: float = 5.0) -> None:
        self.name = name
        self._shutdown_timeout = shutdown_timeout
        self._tasks: dict[asyncio.Task[None], str] = {}
        self._failed: dict[str, str] = {}
        self._closing = False

    @property
    def names(self) -> list[str]:
        """The running tasks' names, in start order."""
        return [name for task, name in self._tasks.items() if not task.done()]

    @property
    def closed(self) -> bool:
        """Closing or closed: `start` refuses new tasks."""
        return self._closing

    @property
    def failed(self) -> dict[str, str]:
        """Tasks stopped by a crash (policy `UNREADY`): name → error type."""
        return dict(self._failed)

    def start(
        self,
        name: str,
        job: Job,
        *,
        policy: Policy = Policy.RESTART,
        backoff: Backoff = Backoff(),
        on_crash: CrashHook | None = None,
    ) -> asyncio.Task[None]:
        """Run `job` as the task `name` under `policy`; `on_crash` is told each crash (before a restart)."""
        if self._closing:
            raise SupervisorClosed(f"supervisor {self.name!r} is closed; cannot start {name!r}")
        task = asyncio.get_running_loop().create_task(self._run(name, job, policy, backoff, on_crash), name=name)
        self._tasks[task] = name
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[None]) -> None:
        if not self._closing:
            self._tasks.pop(task, None)

    async def _run(self, name: str, job: Job, policy: Policy, backoff: Backoff, on_crash: CrashHook | None) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.0
        while True:
            started = loop.time()
            try:
                await job()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every crash is logged and handled per policy below
                crash = exc
            if policy is Policy.UNREADY:
                log.error("task %s crashed; the service is unready", name, exc_info=crash)
                self._failed[name] = type(crash).__name__
            elif policy is Policy.ONCE:
                log.error("task %s failed", name, exc_info=crash)
            else:
                log.error("task %s crashed; restarting it", name, exc_info=crash)
            if on_crash is not None:
                on_crash(crash)
            if policy is not Policy.RESTART:
                return
            delay = backoff.initial if loop.time() - started >= backoff.healthy else backoff.next(delay)
            await asyncio.sleep(delay)

    async def check(self) -> None:
        """Readiness: raise `TaskFailed` if a task with the `UNREADY` policy crashed."""
        if self._failed:
            raise TaskFailed(f"{self.name}: crashed tasks: {', '.join(sorted(self._failed))}")

    async def aclose(self, seconds: float | None = None) -> None:
        """Cancel every task in reverse start order, waiting at most `seconds` in all (by default the
        supervisor's `shutdown_timeout`)."""
        self._closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self._shutdown_timeout if seconds is None else seconds)
        tasks, self._tasks = self._tasks, {}
        order = list(reversed(tasks.items()))
        while order:
            remaining = deadline - loop.time()
            if remaining > 0:
                batch, order = order[:1], order[1:]
            else:
                # Out of time (a task ignored its cancellation): cancel the rest together and give
                # them one short grace to run their cleanup.
                batch, order, remaining = order, [], _GRACE_SECONDS
            for task, _ in batch:
                task.cancel()
            await asyncio.wait([task for task, _ in batch], timeout=remaining)
            for task, name in batch:
                if not task.done():
                    log.warning("task %s did not stop within the shutdown timeout; leaving it", name)
                    task.add_done_callback(_report_late)
                elif not task.cancelled() and task.exception() is not None:
                    log.error("task %s failed while stopping", name, exc_info=task.exception())

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _report_late(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s failed after shutdown", task.get_name(), exc_info=task.exception())
