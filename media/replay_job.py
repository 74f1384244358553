"""A dojo replay video's run, inside the video job (`media.video_job.VideoRun`, which owns the video, its
progress, cancel and time limit, and stores the files):

1. `reading`: the dojo's history (`GET /v1/dojos/{id}/history`) with the history grant the request obtained
   (kept with the video while it is queued or running; a grant that expired first fails the video with a
   sentence saying to ask again), its authors named as they were at request time; the timeline planned
   (`media.video.replay_plan`); the frames of its
   instants (`POST …/history/frames`) streamed into the scratch folder (`frames.ndjson`), progress by lines;
2. `rendering`: `render_replay` in a thread reads that file line by line (one frame in memory) and pipes
   the pictures to ffmpeg; progress is ffmpeg's.
The frames go to disk first so the dojo service's answer is read at the network's pace, not the encoder's.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from media.dojos_client import GRANT_GONE, HistoryGrant, parse_frame
from media.errors import DojoAccessDenied, MediaError
from media.report_job import JobRuntime
from media.repository import Stage
from media.video.replay_model import Frame, ReplayHistory, ReplaySpec
from media.video.replay_render import frame_instants, render_replay
from media.video.spec import Resolution, VideoResult
from media.video_repository import Video

_READING = (0, 10)
_RENDERING_START = 10
FRAMES_FILE = "frames.ndjson"


class ReplayRun(Protocol):
    """What the replay needs of the video run that owns it."""

    @property
    def runtime(self) -> JobRuntime: ...

    @property
    def stopping(self) -> threading.Event: ...

    async def step(self, stage: Stage, value: int) -> None: ...

    async def render_in_thread(
        self, render: Callable[[Callable[[float], None], float], VideoResult], *, deadline: float
    ) -> VideoResult: ...


def replay_spec(video: Video) -> ReplaySpec:
    assert video.speed is not None
    resolution: Resolution = "1080p" if video.resolution == "1080p" else "720p"
    return ReplaySpec(
        title=str(video.header.get("dojo_title", "")),
        speed=video.speed,
        resolution=resolution,
        locale="pt-BR" if video.locale == "pt-BR" else "en",
    )


def grant_of_video(video: Video) -> HistoryGrant | None:
    """The history grant a replay reads with (None once the video no longer needs it)."""
    if video.grant_id is None or video.grant_secret is None or video.grant_expires_at is None:
        return None
    if video.dojo_id is None:
        return None
    return HistoryGrant(
        id=video.grant_id, dojo_id=str(video.dojo_id), secret=video.grant_secret, expires_at=video.grant_expires_at
    )


def named(history: ReplayHistory, names: object) -> ReplayHistory:
    """``history`` with its authors named as the request found them (a grant reads no names)."""
    if not isinstance(names, dict):
        return history
    authors = tuple(
        dataclasses.replace(a, display_name=str(names[a.user_id])) if names.get(a.user_id) else a
        for a in history.authors
    )
    return dataclasses.replace(history, authors=authors)


def read_frames(path: Path) -> Iterator[Frame]:
    """The frames saved in `path`, one line at a time."""
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                yield parse_frame(line)


async def make_replay(run: ReplayRun, video: Video, folder: Path, *, deadline: float) -> VideoResult:
    """Read the dojo's history and frames, render the replay into `folder / "out"`; returns what was made."""
    dojos = run.runtime.dojos
    if dojos is None:
        raise MediaError("This worker cannot reach the dojo service; the video cannot be made here.")
    grant = grant_of_video(video)
    if grant is None or grant.expires_at <= datetime.now(UTC):
        raise DojoAccessDenied(GRANT_GONE)
    dojo_id = grant.dojo_id
    await run.step("reading", _READING[0])
    history = named(await dojos.history(grant, dojo_id), video.header.get("author_names"))
    spec = replay_spec(video)
    instants = frame_instants(spec, history)
    saved = folder / FRAMES_FILE
    low, high = _READING
    with saved.open("wb") as file:
        count = 0
        async for line in dojos.frames(grant, dojo_id, instants):
            file.write(line.rstrip(b"\n") + b"\n")
            count += 1
            if count % 100 == 0:
                await run.step("reading", low + (high - low) * count // max(len(instants), 1))
    await run.step("rendering", _RENDERING_START)
    out_dir = folder / "out"

    def render(progress: Callable[[float], None], remaining: float) -> VideoResult:
        frames = read_frames(saved)
        return render_replay(spec, history, frames, out_dir, progress, time_limit=remaining, cancel=run.stopping)

    return await run.render_in_thread(render, deadline=deadline)
