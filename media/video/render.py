"""`render_video`: a year-in-review MP4, its thumbnail and its captions, from a period's POCs.

A plain synchronous function (the media worker runs it off its event loop). Steps: select the period's
POCs, plan the timeline, draw every card with Pillow into a scratch folder inside `out_dir`, write the
captions and the thumbnail, encode with ffmpeg, probe the result with PyAV. Every file is written under a
hidden temporary name and renamed only once the encode succeeded and probed, so a failed, timed-out or
cancelled render leaves nothing in `out_dir`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av

from media.errors import RenderCancelled, RenderError, RenderTimeout
from media.reports.model import PocRow
from media.video.captions import webvtt
from media.video.cards import Card, empty_card, more_card, outro_card, poc_card, stats_card, title_card
from media.video.encode import Cancel, is_cancelled, run_ffmpeg
from media.video.graph import encode_command
from media.video.plan import Plan, Slot, plan_video
from media.video.spec import VideoResult, VideoSpec, select_pocs

VIDEO_NAME, THUMBNAIL_NAME, CAPTIONS_NAME = "video.mp4", "thumbnail.jpg", "captions.vtt"
_DRAWING_SHARE = 5.0
"""Percent of the progress given to drawing the cards; the encode gets the rest."""


def draw_card(spec: VideoSpec, plan: Plan, slot: Slot) -> Card:
    """The card of one slot, drawn alone (what the video shows while no transition runs)."""
    if slot.kind == "title":
        return title_card(spec, len(plan.rows))
    if slot.kind == "poc":
        assert slot.row is not None
        return poc_card(spec, slot.row, slot.position, len(plan.rows))
    if slot.kind == "more":
        return more_card(spec, plan.hidden)
    if slot.kind == "stats":
        return stats_card(spec, plan.rows)
    if slot.kind == "empty":
        return empty_card(spec)
    return outro_card(spec)


@dataclass(frozen=True, slots=True)
class Drawn:
    """The cards of a plan, saved as images ready for ffmpeg."""

    plan: Plan
    cards: tuple[Card, ...]
    images: tuple[Path, ...]


def draw_cards(spec: VideoSpec, plan: Plan, folder: Path, progress: Callable[[float], None]) -> Drawn:
    cards: list[Card] = []
    images: list[Path] = []
    for index, slot in enumerate(plan.slots):
        card = draw_card(spec, plan, slot)
        image = folder / f"card-{index:03d}.png"
        card.image.save(image, compress_level=1)
        cards.append(card)
        images.append(image)
        progress(_DRAWING_SHARE * (index + 1) / len(plan.slots))
    return Drawn(plan, tuple(cards), tuple(images))


def probe(path: Path) -> tuple[float, int, int]:
    """The MP4's duration (seconds), width and height, read back with PyAV."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if container.duration is None:
                raise RenderError("the encoded video has no duration")
            return container.duration / av.time_base, stream.codec_context.width, stream.codec_context.height
    except (av.FFmpegError, IndexError) as error:
        raise RenderError(f"the encoded video cannot be read back: {error}") from error


def hidden_path(out_dir: Path, name: str) -> Path:
    """A hidden temporary name for `name` in `out_dir` (renamed to `name` once the render succeeded)."""
    return out_dir / f".{name}.{secrets.token_hex(6)}.partial{Path(name).suffix}"


def render_video(
    spec: VideoSpec,
    rows: Sequence[PocRow],
    out_dir: Path,
    progress: Callable[[float], None],
    *,
    time_limit: float,
    cancel: Cancel = None,
) -> VideoResult:
    """Render the video of `spec.period`'s POCs among `rows` into `out_dir` (`video.mp4`, `thumbnail.jpg`,
    `captions.vtt`), reporting 0…100 percent. Past `time_limit` seconds `RenderTimeout`; `cancel` set →
    `RenderCancelled`; ffmpeg failing → `RenderError` carrying its stderr's tail. Nothing is left in
    `out_dir` by a render that raised."""
    deadline = time.monotonic() + time_limit
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_video(select_pocs(rows, spec.period))
    partial = {name: hidden_path(out_dir, name) for name in (VIDEO_NAME, THUMBNAIL_NAME, CAPTIONS_NAME)}
    scratch = Path(tempfile.mkdtemp(prefix=".cards-", dir=out_dir))
    last = [0.0]

    def report(percent: float) -> None:
        if percent > last[0]:
            last[0] = percent
            progress(percent)

    try:
        drawn = draw_cards(spec, plan, scratch, report)
        partial[CAPTIONS_NAME].write_text(webvtt(plan, drawn.cards), encoding="utf-8")
        drawn.cards[0].image.save(partial[THUMBNAIL_NAME], format="JPEG", quality=88)
        if time.monotonic() > deadline:
            raise RenderTimeout("the video took longer than its time limit to draw")
        if is_cancelled(cancel):
            raise RenderCancelled("the video was cancelled before it was encoded")
        share = 100 - _DRAWING_SHARE
        run_ffmpeg(
            encode_command(plan, drawn.images, partial[VIDEO_NAME]),
            planned_seconds=plan.duration,
            progress=lambda percent: report(_DRAWING_SHARE + share * percent / 100),
            deadline=deadline,
            cancel=cancel,
        )
        duration, width, height = probe(partial[VIDEO_NAME])
        finals = {name: out_dir / name for name in partial}
        for name in (CAPTIONS_NAME, THUMBNAIL_NAME, VIDEO_NAME):  # the video last: it marks a finished render
            os.replace(partial[name], finals[name])
    finally:
        shutil.rmtree(scratch)
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
        poc_count=len(plan.rows),
    )
