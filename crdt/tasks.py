"""How the engine runs its long-lived loops (the awareness sweep, the fan-out's maintenance, the store
reconciliation): through a `TaskHost` the service gives it.

A service passes its supervisor (``runtime.supervisor.Supervisor`` has this shape): each loop is then a
named task of the service, logged and restarted with backoff when it crashes, and stopped in order with
the service. Used alone (tests, tools), the engine uses `LocalTasks`: the loop is a named task whose crash
is logged with its name rather than lost until the task is collected. The engine may not import the
service runtime (an import contract), hence this protocol. One-off jobs of one room (a load, an unload, a
save, a compaction) are not loops: their owner awaits them and cancels them in order at close.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

__all__ = ["Job", "LocalTasks", "TaskHost"]

logger = logging.getLogger("crdt.tasks")

Job = Callable[[], Awaitable[None]]


class TaskHost(Protocol):
    """Runs a named long-lived loop; the returned task is cancelled (and awaited) to stop it."""

    def start(self, name: str, job: Job) -> asyncio.Task[None]: ...


class LocalTasks:
    """A `TaskHost` for the engine used alone: a plain task, whose crash is logged with its name."""

    def start(self, name: str, job: Job) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(_logged(name, job), name=name)
        return task


async def _logged(name: str, job: Job) -> None:
    try:
        await job()
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("engine task %s crashed", name)
        raise
