"""Wake long-polls when a report changes: one LISTEN connection per API process on the channel the reports
table's trigger notifies (`media_report_changed`, payload: the report id; migration media 0001), fanned
out to the requests waiting on that report. The notification comes from whichever process made the change
(a worker, another API node), so `GET /v1/reports/{id}?wait=` answers as soon as the row changed.

If the connection drops, every waiter is woken (it re-reads the report and answers) and the listener
reconnects with a capped backoff.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg

from runtime.supervisor import Supervisor

log = logging.getLogger("pocdojo.media.changes")

CHANNEL = "media_report_changed"


class ReportChanges:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._waiters: dict[uuid.UUID, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def start(self, supervisor: Supervisor) -> None:
        """Listen as a task of `supervisor` (the service's: logged and restarted if it ever crashes)."""
        self._task = supervisor.start("media-report-changes", self._listen)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._wake_all()

    @asynccontextmanager
    async def watch(self, report_id: uuid.UUID) -> AsyncIterator[asyncio.Event]:
        """An event set at the report's next change (subscribe before reading the report: no change is missed)."""
        event = asyncio.Event()
        self._waiters.setdefault(report_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(report_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[report_id]

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            report_id = uuid.UUID(str(payload))
        except ValueError:
            log.warning("malformed report notification", extra={"payload": str(payload)[:100]})
            return
        for event in self._waiters.get(report_id, ()):
            event.set()

    def _wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("report notifications: cannot connect", extra={"error": str(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            lost = asyncio.Event()
            conn.add_termination_listener(_setter(lost))
            try:
                await conn.add_listener(CHANNEL, self._notified)
                self.listening.set()
                delay = 0.1
                await lost.wait()
                log.warning("report notifications: connection lost; reconnecting")
            finally:
                self.listening.clear()
                self._wake_all()
                if not conn.is_closed():
                    await conn.close()


def _setter(event: asyncio.Event) -> Callable[[object], None]:
    def set_event(_conn: object) -> None:
        event.set()

    return set_event
