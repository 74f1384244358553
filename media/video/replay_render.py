"""`render_replay`: a dojo's time-lapse MP4, its thumbnail (the final frame) and its WebVTT captions.

A plain synchronous function (the media worker runs it off its event loop), like `render_video`. The
frames come in order from an iterable (the job reads them from the dojo's `history/frames` answer saved
in its scratch folder), each drawn by `ReplayScreen` and written raw (RGB) to ffmpeg's stdin as it is
drawn: memory holds one frame, whatever the video's length. Progress is ffmpeg's own (`-progress`).
Every file is written under a hidden temporary name and renamed only once the encode succeeded and
probed, so a failed, timed-out or cancelled render leaves nothing in `out_dir`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import ffmpeg
from PIL import Image

from media.errors import RenderError
from media.video.encode import Cancel, run_ffmpeg
from media.video.graph import ffmpeg_exe
from media.video.render import CAPTIONS_NAME, THUMBNAIL_NAME, VIDEO_NAME, hidden_path, probe
from media.video.replay_captions import replay_cues, replay_webvtt
from media.video.replay_model import Frame, ReplayHistory, ReplaySpec
from media.video.replay_plan import FPS, ReplayPlan, plan_replay
from media.video.replay_screen import ReplayScreen
from media.video.spec import VideoResult


def replay_command(width: int, height: int, output: Path) -> list[str]:
    """The ffmpeg argument list (binary first): raw RGB frames on stdin at `FPS` → H.264 MP4, no sound."""
    frames = ffmpeg.input("pipe:0", f="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", framerate=FPS)
    out = ffmpeg.output(
        frames.video,
        str(output),
        f="mp4",
        vcodec="libx264",
        preset="veryfast",
        tune="animation",
        crf=18,
        pix_fmt="yuv420p",
        r=FPS,
        movflags="+faststart",
    ).global_args(
        "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats", "-stats_period", "0.1", "-progress", "pipe:1"
    )
    return [str(arg) for arg in out.overwrite_output().compile(cmd=ffmpeg_exe())]


def _pictures(
    plan: ReplayPlan, frames: Iterable[Frame], screen: ReplayScreen, last: list[Image.Image]
) -> Iterator[bytes]:
    """Each planned frame's picture as raw RGB; the frames must come for `plan.frame_times()`, in order."""
    wanted = plan.frame_times()
    source = iter(frames)
    current: Frame | None = None
    for index, t_ms in enumerate(wanted):
        while current is None or current.t_ms < t_ms:
            found = next(source, None)
            if found is None:
                raise RenderError(f"the dojo's history ended before the frame at {t_ms} ms")
            current = found
        if current.t_ms != t_ms:
            raise RenderError(f"the dojo's history has no frame at {t_ms} ms (next: {current.t_ms} ms)")
        picture = screen.draw(current, index / FPS)
        last[:] = [picture]
        yield picture.tobytes()


def render_replay(
    spec: ReplaySpec,
    history: ReplayHistory,
    frames: Iterable[Frame],
    out_dir: Path,
    progress: Callable[[float], None],
    *,
    time_limit: float,
    cancel: Cancel = None,
) -> VideoResult:
    """Render the replay of `history` into `out_dir` (`video.mp4`, `thumbnail.jpg`, `captions.vtt`) from
    `frames`: one per distinct instant of `replay_plan(spec, history).frame_times()`, ascending. Reports
    0…100 percent; past `time_limit` seconds `RenderTimeout`; `cancel` set → `RenderCancelled`; ffmpeg
    failing or frames missing → `RenderError`. Nothing is left in `out_dir` by a render that raised."""
    deadline = time.monotonic() + time_limit
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = replay_plan(spec, history)
    cues = replay_cues(history, plan, spec.locale)
    screen = ReplayScreen(spec, history, cues)
    partial = {name: hidden_path(out_dir, name) for name in (VIDEO_NAME, THUMBNAIL_NAME, CAPTIONS_NAME)}
    last: list[Image.Image] = []
    reported = [0.0]

    def report(percent: float) -> None:
        if percent > reported[0]:
            reported[0] = percent
            progress(percent)

    try:
        partial[CAPTIONS_NAME].write_text(replay_webvtt(cues), encoding="utf-8")
        run_ffmpeg(
            replay_command(screen.width, screen.height, partial[VIDEO_NAME]),
            planned_seconds=plan.duration,
            progress=report,
            deadline=deadline,
            cancel=cancel,
            feed=_pictures(plan, frames, screen, last),
        )
        last[0].save(partial[THUMBNAIL_NAME], format="JPEG", quality=88)
        duration, width, height = probe(partial[VIDEO_NAME])
        finals = {name: out_dir / name for name in partial}
        for name in (CAPTIONS_NAME, THUMBNAIL_NAME, VIDEO_NAME):  # the video last: it marks a finished render
            os.replace(partial[name], finals[name])
    finally:
        for path in partial.values():
            path.unlink(missing_ok=True)
    report(100.0)
    return VideoResult(
        video=finals[VIDEO_NAME],
        thumbnail=finals[THUMBNAIL_NAME],
        captions=finals[CAPTIONS_NAME],
        duration=duration,
        size=finals[VIDEO_NAME].stat().st_size,
        width=width,
        height=height,
        poc_count=0,
    )


def replay_plan(spec: ReplaySpec, history: ReplayHistory) -> ReplayPlan:
    """The timeline of `history` at `spec.speed` (`media.video.replay_plan`)."""
    return plan_replay(history.duration_ms, history.idle, spec.speed)


def frame_instants(spec: ReplaySpec, history: ReplayHistory) -> list[int]:
    """The distinct instants (ms, ascending) whose frames the render needs: what to ask the dojo for."""
    return sorted(set(replay_plan(spec, history).frame_times()))
