"""The video job: one run reads the user's POCs of the period from the POC service's export (stage
`reading`), renders the year-in-review MP4, its JPEG thumbnail and WebVTT captions with
`media.video.render_video` in a thread (`rendering`; the progress is ffmpeg's own, through the renderer),
stores the three files (`uploading`), records the video's duration and size (`done`) and deletes the export.
A dojo replay reads the dojo's history and frames instead, and renders with `render_replay`
(`media.replay_job`), within `POCDOJO_MEDIA_REPLAY_TIME_LIMIT_SECONDS`.

It runs on the reports' job system (`media.queue`, `media.worker`) with the same rules (`media.report_job`):
every progress step is written by the run owning the video (its run token); when that write finds the
video no longer running under the token (cancelled by its user, or taken over by another worker) the run
stops — the renderer's thread raises at its next progress step and ffmpeg is killed — and stores nothing.
The whole run has `POCDOJO_MEDIA_VIDEO_TIME_LIMIT_SECONDS` (the renderer gets what remains of it as its own
limit); a worker shutting down past its grace time releases the run to the queue. The renderer writes
under temporary names in a scratch folder, so a killed encode leaves no object: the files reach the store
only after a complete render, each put atomic, the MP4 last.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import procrastinate
from procrastinate import JobContext
from procrastinate.job_context import AbortReason

from media.dojos_client import HistoryGrant
from media.errors import (
    DojoHistoryError,
    DojoHistoryUnavailable,
    MediaError,
    RenderCancelled,
    RenderTimeout,
    SourceError,
    SourceUnavailable,
    StorageUnavailable,
)
from media.metrics import JOB_DURATION, JOBS_CANCELLED, JOBS_FAILED, JOBS_RUNNING, JOBS_SUCCEEDED, QUEUE_AGE
from media.pocs_client import ExportHandle
from media.queue import QUEUE, JobReleased, ReportRetry, defer_traced, run_span
from media.replay_job import grant_of_video, make_replay
from media.report_job import JobRuntime, RunStopped
from media.reports.model import Locale, PocRow
from media.repository import Stage
from media.video import Period, VideoResult, VideoSpec, render_video
from media.video.spec import PeriodKind, Resolution
from media.video_repository import CONTENT_TYPES, Video, VideoRepository
from runtime.settings import MediaSettings

log = logging.getLogger("pocdojo.media.video_job")

VIDEO_TASK = "media.render_video"
KIND = "video"
"""The jobs' `kind` label in the media metrics."""
READ_PAGE = 1000
# Progress bands of the stages (0-100 over the whole run); the renderer's 0-100 fills the rendering band.
_READING = (0, 10)
_RENDERING = (10, 95)
_UPLOADING = 95


def register_video_task(app: procrastinate.App, settings: MediaSettings) -> None:
    """Register the video task on the media queue's app (the API defers it, the workers run it)."""
    app.task(
        name=VIDEO_TASK,
        queue=QUEUE,
        pass_context=True,
        retry=ReportRetry(max_runs=settings.media_job_max_attempts, base_seconds=settings.media_job_retry_base_seconds),
    )(run_video)


async def defer_video(app: procrastinate.App, tenant_id: str, video_id: uuid.UUID) -> int:
    """Queue a video's job (carrying the current trace when tracing is on); returns the job id."""
    return await defer_traced(app, VIDEO_TASK, tenant_id=tenant_id, video_id=str(video_id))


def export_of_video(video: Video) -> ExportHandle | None:
    """The export a video's period was frozen into (None once the video no longer needs it)."""
    if video.export_id is None or video.export_secret is None or video.export_expires_at is None:
        return None
    return ExportHandle(
        id=video.export_id, secret=video.export_secret, count=video.poc_count or 0, expires_at=video.export_expires_at
    )


def video_spec(video: Video) -> VideoSpec:
    assert video.period is not None and video.period_start is not None and video.period_end is not None
    kind: PeriodKind = "last-12-months" if video.period == "last-12-months" else "year"
    locale: Locale = "pt-BR" if video.locale == "pt-BR" else "en"
    resolution: Resolution = "1080p" if video.resolution == "1080p" else "720p"
    return VideoSpec(
        user_name=str(video.header.get("user_name", "")),
        tenant_name=str(video.header.get("tenant_name", "")),
        period=Period(kind, video.period_start, video.period_end),
        resolution=resolution,
        locale=locale,
    )


async def run_video(
    context: JobContext, tenant_id: str, video_id: str, trace_context: dict[str, str] | None = None
) -> None:
    """The procrastinate task (`VIDEO_TASK`): the worker's runtime, with the videos' rows on its database.
    `trace_context`: the trace of the request that queued the job, continued by this run's span."""
    runtime: JobRuntime = context.additional_context["runtime"]
    with run_span(
        VIDEO_TASK, context.job, trace_context, **{"pocdojo.video_id": video_id, "pocdojo.tenant_id": tenant_id}
    ):
        await VideoRun(runtime, VideoRepository(runtime.reports.db), context, tenant_id, uuid.UUID(video_id)).run()


class VideoRun:
    def __init__(
        self, runtime: JobRuntime, videos: VideoRepository, context: JobContext, tenant_id: str, video_id: uuid.UUID
    ) -> None:
        self.runtime = runtime
        self.videos = videos
        self.context = context
        self.tenant_id = tenant_id
        self.video_id = video_id
        self.token = uuid.uuid4()
        self._stopping = threading.Event()
        self._last_progress: tuple[str, int] | None = None
        self._export: ExportHandle | None = None
        self._grant: HistoryGrant | None = None
        self._log: dict[str, Any] = {"job_id": context.job.id, "video_id": str(video_id), "tenant_id": tenant_id}

    @property
    def stopping(self) -> threading.Event:
        """Set when the run must stop: the renderer's thread watches it (ffmpeg killed)."""
        return self._stopping

    def _limit(self, video: Video) -> float:
        settings = self.runtime.settings
        if video.kind == "dojo-replay":
            return settings.media_replay_time_limit_seconds
        return settings.media_video_time_limit_seconds

    async def run(self) -> None:
        video = await self.videos.start_run(self.tenant_id, self.video_id, self.token)
        if video is None:
            log.info("video no longer active: job skipped", extra=self._log)
            return
        runs = self.runtime.settings.media_job_max_attempts
        if self.context.job.attempts >= runs:
            await self._fail(f"The video could not be made: the workers making it stopped {runs} times.", final=True)
            return
        if video.attempts == 1:
            QUEUE_AGE.labels(KIND).observe(max(0.0, (datetime.now(UTC) - video.created_at).total_seconds()))
        log.info("video job started", extra={**self._log, "attempt": video.attempts, "resolution": video.resolution})
        JOBS_RUNNING.labels(KIND).inc()
        started = time.perf_counter()
        outcome = "failed"
        limit = self._limit(video)
        try:
            async with asyncio.timeout(limit):
                await self._work(video, deadline=time.monotonic() + limit)
            outcome = "succeeded"
            JOBS_SUCCEEDED.labels(KIND).inc()
            log.info("video done", extra=self._log)
        except (RunStopped, RenderCancelled):
            outcome = "cancelled"
            JOBS_CANCELLED.labels(KIND).inc()
            log.info("video run stopped: cancelled or taken over", extra=self._log)
        except (TimeoutError, RenderTimeout):
            await self._fail(f"The video took longer than {limit:g} seconds and was stopped.", final=True)
        except asyncio.CancelledError:
            if self.context.abort_reason() != AbortReason.SHUTDOWN:
                raise
            outcome = "released"
            await self._fail("The worker making this video stopped; it will resume shortly.", final=False)
            raise JobReleased("worker shutdown") from None
        except MediaError as exc:
            retry_in = self.runtime.retry.retry_in(exc, self.context.job.attempts)
            await self._fail(_sentence(exc, retry_in), final=retry_in is None)
            raise
        except Exception:
            log.exception("video job failed", extra=self._log)
            await self._fail("The video could not be made because of an internal error.", final=True)
            raise
        finally:
            JOBS_RUNNING.labels(KIND).dec()
            JOB_DURATION.labels(KIND, outcome).observe(time.perf_counter() - started)

    async def _fail(self, error: str, *, final: bool) -> None:
        JOBS_FAILED.labels(KIND, "true" if final else "false").inc()
        log.warning("video run failed", extra={**self._log, "error": error, "final": final})
        await self.videos.fail(self.tenant_id, self.video_id, self.token, error, final=final)
        if final and self._export is not None:
            await self._drop_export(self._export)
        if final and self._grant is not None:
            await self._revoke_grant(self._grant)

    async def _revoke_grant(self, grant: HistoryGrant) -> None:
        dojos = self.runtime.dojos
        if dojos is None:
            return
        try:
            await dojos.revoke(grant)
        except MediaError as exc:
            log.warning("history grant not revoked; it will expire", extra={**self._log, "error": str(exc)})

    async def _drop_export(self, export: ExportHandle) -> None:
        try:
            await self.runtime.exports.delete_export(export)
        except MediaError as exc:
            log.warning("export not deleted; it will expire", extra={**self._log, "error": str(exc)})

    async def _step(self, stage: Stage, value: int) -> None:
        """Record progress (only when it changed); stop the run if it no longer owns the video."""
        if self._stopping.is_set():
            raise RunStopped
        if (stage, value) == self._last_progress:
            return
        self._last_progress = (stage, value)
        if not await self.videos.progress(self.tenant_id, self.video_id, self.token, stage, value):
            raise RunStopped
        if self.runtime.on_progress is not None:
            await self.runtime.on_progress(self.video_id, stage, value)

    async def _work(self, video: Video, *, deadline: float) -> None:
        export = None
        if video.kind == "year-in-review":
            export = export_of_video(video)
            if export is None:
                raise SourceError("The video's POC list is gone; ask for the video again.")
            self._export = export
        else:
            self._grant = grant_of_video(video)
        keys = video.keys()
        with tempfile.TemporaryDirectory(prefix="pocdojo-video-") as folder:
            if export is None:
                result = await make_replay(self, video, Path(folder), deadline=deadline)
            else:
                await self._step("reading", _READING[0])
                rows = await self._read_all(export)
                await self._step("rendering", _RENDERING[0])
                spec = video_spec(video)
                out_dir = Path(folder) / "out"

                def year(progress: Callable[[float], None], remaining: float) -> VideoResult:
                    return render_video(spec, rows, out_dir, progress, time_limit=remaining, cancel=self._stopping)

                result = await self.render_in_thread(year, deadline=deadline)
            await self._step("uploading", _UPLOADING)
            await self._put_all(keys, result)
        done = await self.videos.finish(
            self.tenant_id,
            self.video_id,
            self.token,
            prefix=video.prefix,
            duration=result.duration,
            size=result.size,
            pocs=result.poc_count,
        )
        if not done:
            # Cancelled while uploading: the objects must not outlive their video.
            await self._delete_all(keys)
            raise RunStopped
        if export is not None:
            await self._drop_export(export)
        if self._grant is not None:
            await self._revoke_grant(self._grant)

    async def _read_all(self, export: ExportHandle) -> list[PocRow]:
        rows: list[PocRow] = []
        total = max(export.count, 1)
        async for row in self.runtime.exports.iter_rows(export, READ_PAGE):
            rows.append(row)
            if len(rows) % READ_PAGE == 0:
                await self._step("reading", _band(_READING, len(rows), total))
        return rows

    async def step(self, stage: Stage, value: int) -> None:
        """Record progress (`_step`), for the replay's maker."""
        await self._step(stage, value)

    async def render_in_thread(
        self, render: Callable[[Callable[[float], None], float], VideoResult], *, deadline: float
    ) -> VideoResult:
        """Run `render(progress, remaining_seconds)` in a thread; its 0-100 fills the rendering band. A cancel
        or the time limit sets the stop event the renderer watches (ffmpeg killed) and waits for it."""
        loop = asyncio.get_running_loop()
        low, high = _RENDERING

        def progress(percent: float) -> None:
            if self._stopping.is_set():
                raise RunStopped
            value = low + int((high - low) * min(max(percent, 0.0), 100.0) / 100)
            if ("rendering", value) != self._last_progress:
                asyncio.run_coroutine_threadsafe(self._step("rendering", value), loop).result()

        def run() -> VideoResult:
            return render(progress, max(deadline - time.monotonic(), 0.001))

        # In a copy of this run's context: the progress the thread records is written under the run's trace.
        future = loop.run_in_executor(None, contextvars.copy_context().run, run)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # Time limit or shutdown: the renderer kills ffmpeg on the cancel event and removes its partial
            # files; wait for it before the scratch folder goes.
            self._stopping.set()
            await asyncio.wait([future])
            if not future.cancelled() and future.exception() is not None:
                log.info("renderer stopped", extra={**self._log, "error": str(future.exception())})
            raise

    async def _put_all(self, keys: dict[str, str], result: VideoResult) -> None:
        """The captions, the thumbnail, then the MP4; a failed upload removes those already stored."""
        files = {"captions": result.captions, "thumbnail": result.thumbnail, "video": result.video}
        try:
            for part, path in files.items():
                await self.runtime.store.put_file(keys[part], path, content_type=CONTENT_TYPES[part])
        except MediaError:
            try:
                await self._delete_all(keys)
            except MediaError as exc:
                log.warning("a failed upload's objects were not deleted", extra={**self._log, "error": str(exc)})
            raise

    async def _delete_all(self, keys: dict[str, str]) -> None:
        for key in keys.values():
            await self.runtime.store.delete(key)


def _band(band: tuple[int, int], done: int, total: int) -> int:
    low, high = band
    return low + (high - low) * min(done, total) // total


def _sentence(error: MediaError, retry_in: int | None) -> str:
    """What the user reads about a failed run."""
    if isinstance(error, StorageUnavailable):
        what = f"The file store could not be reached ({error})."
    elif isinstance(error, DojoHistoryUnavailable):
        what = str(error)
    elif isinstance(error, DojoHistoryError):
        what = f"The dojo's history could not be read: {error}"
    elif isinstance(error, SourceUnavailable):
        what = f"The POC catalogue could not be reached ({error})."
    else:
        what = str(error) or type(error).__name__
    return what if retry_in is None else f"{what} Retrying in {retry_in} s."
