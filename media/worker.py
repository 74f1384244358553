"""The media worker process (`pocdojo worker media`; `pocdojo dev` runs one inside its process).

It opens its own database pool, object store and POC-service client, then runs procrastinate's worker on
the `media` queue with `POCDOJO_MEDIA_WORKER_CONCURRENCY` jobs at once, and beside it a loop that gives the
running jobs of dead workers (no heartbeat for `POCDOJO_MEDIA_WORKER_STALLED_SECONDS`) back to the queue.

Ordered shutdown (SIGTERM, or `stop` set): stop taking jobs, let the running ones finish for
`POCDOJO_MEDIA_WORKER_SHUTDOWN_SECONDS`, then release those still running (they go back to the queue and
resume on another worker), unregister, close the clients and the pool.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from contextlib import AsyncExitStack

import procrastinate
from procrastinate.exceptions import ConnectorException

from media.metrics import QUEUE_OLDEST_AGE
from media.queue import QUEUE, build_app, oldest_waiting_seconds, recover_stalled
from media.report_job import JobRuntime, ProgressHook, Renderer, default_renderers
from media.repository import ReportRepository
from media.sources import DojoHistories, PocExports
from media.storage.base import ObjectStore
from runtime.db import Database
from runtime.settings import MediaSettings

log = logging.getLogger("pocdojo.media.worker")


def build_store(settings: MediaSettings) -> ObjectStore:
    from media.storage.factory import create_store

    return create_store(settings)


def build_exports(settings: MediaSettings) -> PocExports:
    from media.pocs_client import PocsClient

    return PocsClient.from_settings(settings)


def build_dojos(settings: MediaSettings) -> DojoHistories:
    from media.dojos_client import DojosClient

    return DojosClient.from_settings(settings)


class MediaWorker:
    """One worker: `await worker.run(stop)` until `stop` is set."""

    def __init__(
        self,
        settings: MediaSettings,
        *,
        store: Callable[[MediaSettings], ObjectStore] = build_store,
        exports: Callable[[MediaSettings], PocExports] = build_exports,
        dojos: Callable[[MediaSettings], DojoHistories] = build_dojos,
        renderers: Callable[[], dict[str, tuple[Renderer, bool]]] = default_renderers,
        on_progress: ProgressHook | None = None,
        name: str | None = None,
    ) -> None:
        self.settings = settings
        self._renderers = renderers
        self._store = store
        self._exports = exports
        self._dojos = dojos
        self.on_progress = on_progress
        self.name = name or f"media@{socket.gethostname()}:{os.getpid()}"
        self.started = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        settings = self.settings
        concurrency = settings.media_worker_concurrency
        async with AsyncExitStack() as stack:
            db = Database(settings.require_database_url(), min_size=1, max_size=concurrency + 2)
            await stack.enter_async_context(db)
            store = self._store(settings)
            stack.push_async_callback(store.close)
            exports = self._exports(settings)
            histories = self._dojos(settings)
            for client in (exports, histories):
                closer = getattr(client, "aclose", None)
                if closer is not None:
                    stack.push_async_callback(closer)
            app = build_app(settings, max_size=concurrency + 4)
            await stack.enter_async_context(app.open_async())
            runtime = JobRuntime(
                settings,
                ReportRepository(db),
                store,
                exports,
                self._renderers(),
                on_progress=self.on_progress,
                dojos=histories,
            )
            jobs = asyncio.create_task(self._work(app, runtime), name="media-worker")
            recovery = asyncio.create_task(self._recover(app), name="media-recovery")
            self.started.set()
            log.info("media worker started", extra={"worker": self.name, "concurrency": concurrency})
            stopping = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({jobs, recovery, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                log.info("media worker stopping", extra={"worker": self.name})
                stopping.cancel()
                recovery.cancel()
                jobs.cancel()  # procrastinate: stop fetching, wait the grace time, release the rest
                results = await asyncio.gather(jobs, recovery, stopping, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    raise result
            log.info("media worker stopped", extra={"worker": self.name})

    async def _work(self, app: procrastinate.App, runtime: JobRuntime) -> None:
        settings = self.settings
        await app.run_worker_async(
            queues=[QUEUE],
            name=self.name,
            concurrency=settings.media_worker_concurrency,
            install_signal_handlers=False,
            update_heartbeat_interval=settings.media_worker_heartbeat_seconds,
            stalled_worker_timeout=settings.media_worker_stalled_seconds,
            shutdown_graceful_timeout=settings.media_worker_shutdown_seconds,
            fetch_job_polling_interval=settings.media_worker_poll_seconds,
            abort_job_polling_interval=settings.media_worker_heartbeat_seconds,
            additional_context={"runtime": runtime},
        )

    async def _recover(self, app: procrastinate.App) -> None:
        """Every heartbeat interval: give dead workers' running jobs back to the queue, then measure how long
        the oldest ready job has waited (`pocdojo_media_queue_oldest_age_seconds`)."""
        interval = self.settings.media_worker_heartbeat_seconds
        while True:
            try:
                await recover_stalled(app, stalled_seconds=self.settings.media_worker_stalled_seconds)
                QUEUE_OLDEST_AGE.set(await oldest_waiting_seconds(app))
            except ConnectorException as exc:
                log.warning("stalled-job check failed; trying again", extra={"worker": self.name, "error": str(exc)})
            await asyncio.sleep(interval)


def run_until_signalled(worker: MediaWorker) -> None:
    """Run `worker` in this process until SIGTERM or SIGINT (ordered shutdown)."""
    import signal

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await worker.run(stop)

    asyncio.run(main())
