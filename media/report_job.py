"""The report job: one run reads the report's POCs from the POC service's export (stage `reading`), renders
them into a temporary file in a thread (`rendering`), stores the file (`uploading`), records its key and
size (`done`) and deletes the export.

Every step's progress is written to the report row by the run that owns it (`media.repository`): when
that write finds the report no longer running under this run's token (the user cancelled it, or another
worker took it over), the run stops at that step — the renderer's thread included — and leaves no object.
A run also stops at the job's time limit (`POCDOJO_MEDIA_JOB_TIME_LIMIT_SECONDS`, final failure), and when
its worker shuts down past its grace time (the report goes back to the queue and resumes elsewhere).
Failures become a sentence the user reads in the report's `error`; retryable ones (`media.queue.RETRYABLE`)
are retried with backoff by the queue.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from procrastinate import JobContext
from procrastinate.job_context import AbortReason

from media.errors import MediaError, SourceError, SourceUnavailable, StorageUnavailable
from media.metrics import JOB_DURATION, JOBS_CANCELLED, JOBS_FAILED, JOBS_RUNNING, JOBS_SUCCEEDED, QUEUE_AGE, kind_of
from media.pocs_client import ExportHandle
from media.queue import REPORT_TASK, JobReleased, ReportRetry, run_span
from media.reports.model import Locale, PocRow, ProgressSink, ReportFilters, ReportHeader
from media.repository import Report, ReportRepository, Stage
from media.sources import DojoHistories, PocExports, export_of
from media.storage.base import ObjectStore
from runtime.settings import MediaSettings

log = logging.getLogger("pocdojo.media.job")

CONTENT_TYPES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}
READ_PAGE = 1000
# Progress bands of the stages (0-100 over the whole run).
_READING = (0, 30)
_RENDERING = (30, 90)
_UPLOADING = 90


class Renderer(Protocol):
    def __call__(
        self, header: ReportHeader, rows: Iterable[PocRow], out: BinaryIO, *, bom: bool, progress: ProgressSink
    ) -> None: ...


ProgressHook = Callable[[uuid.UUID, Stage, int], Awaitable[None]]
"""Called after each progress step a run records (observability; tests use it to hold a run mid-way)."""


def default_renderers() -> dict[str, tuple[Renderer, bool]]:
    """format -> (renderer, whether it takes the rows as a stream: CSV does, the PDF needs them all)."""
    from media.reports.csv_report import write_csv
    from media.reports.pdf import write_pdf

    def csv(header: ReportHeader, rows: Iterable[PocRow], out: BinaryIO, *, bom: bool, progress: ProgressSink) -> None:
        write_csv(header, rows, out, bom=bom, progress=progress)

    def pdf(header: ReportHeader, rows: Iterable[PocRow], out: BinaryIO, *, bom: bool, progress: ProgressSink) -> None:
        write_pdf(header, list(rows), out, progress)

    return {"csv": (csv, True), "pdf": (pdf, False)}


@dataclass
class JobRuntime:
    """What a worker process hands every job run (procrastinate's `additional_context["runtime"]`)."""

    settings: MediaSettings
    reports: ReportRepository
    store: ObjectStore
    exports: PocExports
    renderers: dict[str, tuple[Renderer, bool]] = field(default_factory=default_renderers)
    on_progress: ProgressHook | None = None
    dojos: DojoHistories | None = None
    """The dojo service's history (replay videos); None where no replay is made (report-only tests)."""

    @property
    def retry(self) -> ReportRetry:
        return ReportRetry(
            max_runs=self.settings.media_job_max_attempts, base_seconds=self.settings.media_job_retry_base_seconds
        )


class RunStopped(Exception):
    """This run no longer owns a running report (cancelled, or taken over): it stops and leaves nothing."""


def object_key(report: Report) -> str:
    return f"reports/{report.tenant_id}/{report.user_id}/{report.id}.{report.format}"


def report_header(report: Report) -> ReportHeader:
    stored = report.header
    filters = report.filters
    locale: Locale = "pt-BR" if report.locale == "pt-BR" else "en"
    return ReportHeader(
        tenant_name=str(stored.get("tenant_name", "")),
        user_name=str(stored.get("user_name", "")),
        requested_at=report.created_at,
        locale=locale,
        filters=ReportFilters(
            q=filters.get("q"),
            language=filters.get("language"),
            tags=tuple(filters.get("tag") or ()),
            owner=filters.get("owner"),
            created_from=filters.get("created_from"),
            created_to=filters.get("created_to"),
            sort=filters.get("sort"),
        ),
        title=report.title,
        owner_names=dict(stored.get("owner_names") or {}),
    )


async def run_report(
    context: JobContext, tenant_id: str, report_id: str, trace_context: dict[str, str] | None = None
) -> None:
    """The procrastinate task (`media.queue.REPORT_TASK`). `trace_context`: the trace of the request that
    queued the job (`media.queue.defer_report`), continued by this run's span; absent when tracing was off."""
    runtime: JobRuntime = context.additional_context["runtime"]
    attributes = {"pocdojo.report_id": report_id, "pocdojo.tenant_id": tenant_id}
    with run_span(REPORT_TASK, context.job, trace_context, **attributes):
        await ReportRun(runtime, context, tenant_id, uuid.UUID(report_id)).run()


class ReportRun:
    def __init__(self, runtime: JobRuntime, context: JobContext, tenant_id: str, report_id: uuid.UUID) -> None:
        self.runtime = runtime
        self.context = context
        self.tenant_id = tenant_id
        self.report_id = report_id
        self.token = uuid.uuid4()
        self.job_id = context.job.id
        self._stopping = threading.Event()
        self._last_progress: tuple[str, int] | None = None
        self._export: ExportHandle | None = None
        self._log: dict[str, Any] = {"job_id": self.job_id, "report_id": str(report_id), "tenant_id": tenant_id}

    async def run(self) -> None:
        report = await self.runtime.reports.start_run(self.tenant_id, self.report_id, self.token)
        if report is None:
            log.info("report no longer active: job skipped", extra=self._log)
            return
        kind = kind_of(report.format)
        runs = self.runtime.settings.media_job_max_attempts
        if self.context.job.attempts >= runs:
            # Every earlier run ended with its worker (killed, out of memory) or was released: stop trying.
            await self._fail(
                kind, f"The report could not be made: the workers making it stopped {runs} times.", final=True
            )
            return
        if report.attempts == 1:
            QUEUE_AGE.labels(kind).observe(max(0.0, (datetime.now(UTC) - report.created_at).total_seconds()))
        log.info("report job started", extra={**self._log, "attempt": report.attempts, "format": report.format})
        JOBS_RUNNING.labels(kind).inc()
        started = time.perf_counter()
        outcome = "failed"
        try:
            async with asyncio.timeout(self.runtime.settings.media_job_time_limit_seconds):
                await self._work(report)
            outcome = "succeeded"
            JOBS_SUCCEEDED.labels(kind).inc()
            log.info("report done", extra=self._log)
        except RunStopped:
            outcome = "cancelled"
            JOBS_CANCELLED.labels(kind).inc()
            log.info("report run stopped: cancelled or taken over", extra=self._log)
        except TimeoutError:
            limit = self.runtime.settings.media_job_time_limit_seconds
            await self._fail(kind, f"The report took longer than {limit:g} seconds and was stopped.", final=True)
        except asyncio.CancelledError:
            if self.context.abort_reason() != AbortReason.SHUTDOWN:
                raise
            outcome = "released"
            await self._fail(kind, "The worker making this report stopped; it will resume shortly.", final=False)
            raise JobReleased("worker shutdown") from None
        except MediaError as exc:
            retry_in = self.runtime.retry.retry_in(exc, self.context.job.attempts)
            await self._fail(kind, _sentence(exc, retry_in), final=retry_in is None)
            raise
        except Exception:
            log.exception("report job failed", extra=self._log)
            await self._fail(kind, "The report could not be made because of an internal error.", final=True)
            raise
        finally:
            JOBS_RUNNING.labels(kind).dec()
            JOB_DURATION.labels(kind, outcome).observe(time.perf_counter() - started)

    async def _fail(self, kind: str, error: str, *, final: bool) -> None:
        JOBS_FAILED.labels(kind, "true" if final else "false").inc()
        log.warning("report run failed", extra={**self._log, "error": error, "final": final})
        await self.runtime.reports.fail(self.tenant_id, self.report_id, self.token, error, final=final)
        if final and self._export is not None:
            await self._drop_export(self._export)

    async def _drop_export(self, export: ExportHandle) -> None:
        """Delete the export once the report no longer needs it (else it expires by itself)."""
        try:
            await self.runtime.exports.delete_export(export)
        except MediaError as exc:
            log.warning("export not deleted; it will expire", extra={**self._log, "error": str(exc)})

    async def _step(self, stage: Stage, value: int) -> None:
        """Record progress (only when it changed); stop the run if it no longer owns the report."""
        if self._stopping.is_set():
            raise RunStopped
        if (stage, value) == self._last_progress:
            return
        self._last_progress = (stage, value)
        owned = await self.runtime.reports.progress(self.tenant_id, self.report_id, self.token, stage, value)
        if not owned:
            raise RunStopped
        if self.runtime.on_progress is not None:
            await self.runtime.on_progress(self.report_id, stage, value)

    async def _work(self, report: Report) -> None:
        export = export_of(report)
        if export is None:
            raise SourceError("The report's POC list is gone; ask for the report again.")
        self._export = export
        renderer, streams = self.runtime.renderers[report.format]
        header = report_header(report)
        key = object_key(report)
        with tempfile.TemporaryDirectory(prefix="pocdojo-report-") as folder:
            path = Path(folder) / f"report.{report.format}"
            await self._step("reading", _READING[0])
            if streams:
                source = self.runtime.exports.iter_rows(export, READ_PAGE)
                try:
                    await self._step("rendering", _RENDERING[0])
                    await self._render(renderer, header, self._rows_for_thread(source), path, bom=report.bom)
                finally:
                    if isinstance(source, AsyncGenerator):
                        await source.aclose()  # a run stopped mid-stream leaves no generator open
            else:
                rows = await self._read_all(export)
                await self._step("rendering", _RENDERING[0])
                await self._render(renderer, header, rows, path, bom=report.bom)
            await self._step("uploading", _UPLOADING)
            size = await self.runtime.store.put_file(key, path, content_type=CONTENT_TYPES[report.format])
        done = await self.runtime.reports.finish(
            self.tenant_id, self.report_id, self.token, key=key, size=size, rows=export.count
        )
        if not done:
            # Cancelled while uploading: the object must not outlive its report.
            await self.runtime.store.delete(key)
            raise RunStopped
        await self._drop_export(export)

    async def _read_all(self, export: ExportHandle) -> list[PocRow]:
        rows: list[PocRow] = []
        total = max(export.count, 1)
        async for row in self.runtime.exports.iter_rows(export, READ_PAGE):
            rows.append(row)
            if len(rows) % READ_PAGE == 0:
                await self._step("reading", _band(_READING, len(rows), total))
        return rows

    def _rows_for_thread(self, rows: AsyncIterator[PocRow]) -> Iterator[PocRow]:
        """The async rows as a blocking iterator for the renderer's thread: one row at a time from the loop,
        so a streaming renderer's memory does not grow with the row count."""
        loop = asyncio.get_running_loop()

        async def following() -> PocRow:
            return await anext(rows)

        def pull() -> Iterator[PocRow]:
            while True:
                if self._stopping.is_set():
                    raise RunStopped
                try:
                    yield asyncio.run_coroutine_threadsafe(following(), loop).result()
                except StopAsyncIteration:
                    return

        return pull()

    async def _render(
        self, renderer: Renderer, header: ReportHeader, rows: Iterable[PocRow], path: Path, *, bom: bool
    ) -> None:
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int) -> None:
            if self._stopping.is_set():
                raise RunStopped
            value = _band(_RENDERING, done, max(total, 1))
            if ("rendering", value) != self._last_progress:
                asyncio.run_coroutine_threadsafe(self._step("rendering", value), loop).result()

        def render() -> None:
            with path.open("wb") as out:
                renderer(header, rows, out, bom=bom, progress=progress)

        # The thread runs in a copy of this run's context: the rows it pulls back on the loop (the POC
        # service's pages) are read under the run's trace.
        future = loop.run_in_executor(None, contextvars.copy_context().run, render)
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            # Time limit or shutdown: the thread stops at its next progress step; wait for it, so the
            # temporary file is closed before its folder goes.
            self._stopping.set()
            await asyncio.wait([future])
            raise


def _band(band: tuple[int, int], done: int, total: int) -> int:
    low, high = band
    return low + (high - low) * min(done, total) // total


def _sentence(error: MediaError, retry_in: int | None) -> str:
    """What the user reads about a failed run."""
    if isinstance(error, StorageUnavailable):
        what = f"The file store could not be reached ({error})."
    elif isinstance(error, SourceUnavailable):
        what = f"The POC catalogue could not be reached ({error})."
    else:
        what = str(error) or type(error).__name__
    if retry_in is not None:
        return f"{what} Retrying in {retry_in} s."
    return what
