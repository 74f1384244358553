"""Many POCs, none, the time limit, cancellation and ffmpeg failing: what is left in the output folder."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import av
import psutil
import pytest

from media.errors import RenderCancelled, RenderError, RenderTimeout
from media.video import render_video
from media.video.encode import run_ffmpeg
from media.video.graph import ffmpeg_exe
from media.video.plan import plan_video
from media.video.render import draw_card
from media.video.spec import select_pocs
from tests.media.video.conftest import frames_at, mean_difference, pocs, render, spec
from tests.media.video.test_render import SAME_CARD


def test_more_pocs_than_fit_end_with_an_and_n_more_card_within_60_seconds(tmp_path: Path) -> None:
    rows = pocs(21)
    video_spec = spec(locale="en")
    rendered = render(tmp_path, video_spec, rows)
    plan = plan_video(select_pocs(rows, video_spec.period))
    assert rendered.result.duration <= 60.0
    assert abs(rendered.result.duration - plan.duration) <= 0.5
    assert rendered.result.poc_count == 21
    more = next(slot for slot in plan.slots if slot.kind == "more")
    middle = more.start + more.frames // 2
    frame = frames_at(rendered.result.video, [middle])[middle]
    card = draw_card(video_spec, plan, more)
    assert card.lines == ("… and 2 more POCs",)
    assert mean_difference(frame, card.image) < SAME_CARD
    assert "… and 2 more POCs" in rendered.result.captions.read_text(encoding="utf-8")


def test_zero_pocs_make_a_short_video_that_says_so(tmp_path: Path) -> None:
    video_spec = spec()
    rendered = render(tmp_path, video_spec, pocs(3)[:0])
    plan = plan_video([])
    assert abs(rendered.result.duration - plan.duration) <= 0.5
    assert rendered.result.poc_count == 0
    empty = plan.slots[1]
    middle = empty.start + empty.frames // 2
    frame = frames_at(rendered.result.video, [middle])[middle]
    assert mean_difference(frame, draw_card(video_spec, plan, empty).image) < SAME_CARD
    captions = rendered.result.captions.read_text(encoding="utf-8")
    assert "Nenhum POC neste período" in captions and "0 POCs" in captions


class _Encoder:
    """Watches the render from its progress callback: ffmpeg's pid and the partial file while it encodes."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.pid: int | None = None
        self.partial: list[str] = []
        self.frozen = False

    def saw_encoding(self, percent: float) -> bool:
        if self.pid is not None or percent <= 5:  # up to 5 % the cards are being drawn
            return self.pid is not None
        children = [child for child in psutil.Process().children() if "ffmpeg" in child.name()]
        assert len(children) == 1
        self.pid = children[0].pid
        self.partial = [name for name in os.listdir(self.out_dir) if name.endswith(".partial.mp4")]
        return True

    def assert_killed_and_nothing_left(self) -> None:
        assert self.pid is not None
        assert len(self.partial) == 1  # the encode was writing its temporary file…
        assert not psutil.pid_exists(self.pid)  # …then ffmpeg was killed (and reaped)
        assert os.listdir(self.out_dir) == []  # …and nothing is left behind


def test_the_time_limit_kills_ffmpeg_and_leaves_no_file(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    encoder = _Encoder(out_dir)

    def freeze_encoder(percent: float) -> None:
        # At ffmpeg's first progress line, stop it (SIGSTOP): it cannot finish, so the limit strikes
        # mid-encode however fast or loaded the machine is; the renderer's kill ends a stopped process too.
        # The limit leaves room for drawing the cards on a busy machine.
        if encoder.saw_encoding(percent) and not encoder.frozen:
            assert encoder.pid is not None
            os.kill(encoder.pid, signal.SIGSTOP)
            encoder.frozen = True

    with pytest.raises(RenderTimeout, match="time limit"):
        render_video(spec(), pocs(21), out_dir, freeze_encoder, time_limit=10.0)
    encoder.assert_killed_and_nothing_left()


def test_cancelling_kills_ffmpeg_and_leaves_no_file(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    encoder = _Encoder(out_dir)
    cancel = threading.Event()

    def cancel_when_encoding(percent: float) -> None:
        if encoder.saw_encoding(percent):
            cancel.set()

    with pytest.raises(RenderCancelled, match="cancelled"):
        render_video(spec(), pocs(21), out_dir, cancel_when_encoding, time_limit=120, cancel=cancel)
    encoder.assert_killed_and_nothing_left()


def test_a_cancel_callable_is_honoured_before_encoding(tmp_path: Path) -> None:
    with pytest.raises(RenderCancelled):
        render_video(spec(), pocs(2), tmp_path, lambda _: None, time_limit=120, cancel=lambda: True)
    assert os.listdir(tmp_path) == []


def test_ffmpeg_failing_raises_with_the_tail_of_its_stderr(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-card.png"
    with pytest.raises(RenderError, match=r"(?s)exit status [1-9].*No such file.*no-such-card\.png"):
        run_ffmpeg(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-progress", "pipe:1", "-i", str(missing), "out.mp4"],
            planned_seconds=1,
            progress=lambda _: None,
            deadline=time.monotonic() + 60,
        )


def test_the_probe_reads_the_finished_file(tmp_path: Path) -> None:
    rendered = render(tmp_path, spec(resolution="1080p"), [])
    assert (rendered.result.width, rendered.result.height) == (1920, 1080)
    with av.open(str(rendered.result.video)) as container:
        assert container.streams.video[0].codec_context.height == 1080
