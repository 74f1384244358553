"""The dojo replay renderer on a synthetic session (`replay_session`), with the real ffmpeg: the MP4 probes as
planned (idle compressed, final state held), frames decoded back show each author's text in the author's
colour, the thumbnail is the final frame, the captions carry the driver changes and the chat, progress is
ffmpeg's; missing frames or a cancel leave nothing behind."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from PIL import Image

from media.errors import RenderCancelled, RenderError
from media.video.replay_model import Frame
from media.video.replay_plan import FPS, HOLD_SECONDS
from media.video.replay_render import frame_instants, render_replay, replay_plan
from media.video.replay_screen import ReplayScreen
from media.video.spec import VideoResult
from tests.media.video.conftest import mean_difference
from tests.media.video.replay_session import BLUE, CHAT, RED, frame, frames_for, history, spec

SAME_PICTURE = 2.5
"""A decoded frame vs. the picture drawn: H.264's loss only (as the year video's tests)."""


class Replayed:
    def __init__(self, result: VideoResult, progress: list[float]) -> None:
        self.result, self.progress = result, progress


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    progress: list[float] = []
    out_dir = tmp_path_factory.mktemp("replay")
    instants = frame_instants(spec(), history())
    result = render_replay(spec(), history(), frames_for(instants), out_dir, progress.append, time_limit=120)
    return Replayed(result, progress)


def decoded(path: Path, seconds: float) -> Image.Image:
    """The decoded frame shown at `seconds` into the MP4."""
    wanted = round(seconds * FPS)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for picture in container.decode(stream):
            assert picture.pts is not None
            if round(float(picture.pts * stream.time_base) * FPS) >= wanted:
                return picture.to_image().convert("RGB")
    raise AssertionError(f"no frame at {seconds} s")


def colour_share(image: Image.Image, box: tuple[int, int, int, int], colour: tuple[int, int, int]) -> int:
    """Pixels of `box` within a small distance of `colour` (antialiasing and H.264 move the edges)."""
    raw = image.crop(box).tobytes()
    pixels = (raw[i : i + 3] for i in range(0, len(raw), 3))
    return sum(1 for pixel in pixels if sum(abs(a - b) for a, b in zip(pixel, colour, strict=True)) <= 60)


def test_the_file_probes_as_planned_idle_compressed_and_final_state_held(replayed: Replayed) -> None:
    plan = replay_plan(spec(), history())
    # 20 s of typing at 8× (2.5 s), 20 s idle in 1 s, 20 s of typing (2.5 s), the end held 2 s
    assert plan.play_seconds == pytest.approx(6.0)
    assert plan.duration == pytest.approx(6.0 + HOLD_SECONDS)
    result = replayed.result
    assert abs(result.duration - plan.duration) <= 0.2
    assert (result.width, result.height) == (1280, 720)
    with av.open(str(result.video)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert video.average_rate == FPS
        assert video.frames == plan.total_frames
        assert not container.streams.audio


def test_each_authors_text_is_drawn_in_the_authors_colour(replayed: Replayed) -> None:
    final = decoded(replayed.result.video, replayed.result.duration - 0.5)
    screen = ReplayScreen(spec(), history(), [])
    ana_line, bruno_line = screen.line_box(0), screen.line_box(1)
    assert colour_share(final, ana_line, RED) > 20
    assert colour_share(final, ana_line, BLUE) == 0
    assert colour_share(final, bruno_line, BLUE) > 20
    assert colour_share(final, bruno_line, RED) == 0
    # halfway through Ana's typing (1.25 s into the video) Bruno has written nothing yet
    early = decoded(replayed.result.video, 1.25)
    assert colour_share(early, ana_line, RED) > 5
    assert colour_share(early, bruno_line, BLUE) == 0


def test_a_decoded_frame_is_the_picture_drawn_for_its_instant(replayed: Replayed) -> None:
    plan = replay_plan(spec(), history())
    screen = ReplayScreen(spec(), history(), [])
    times = plan.frame_times()
    index = round(5.0 * FPS)  # during Bruno's typing
    pictures = [screen.draw(frame(t_ms), n / FPS) for n, t_ms in enumerate(times[: index + 1])]
    shown = decoded(replayed.result.video, index / FPS)
    assert mean_difference(shown, pictures[-1]) < SAME_PICTURE
    # Around the code lines the frame is closest to its own picture among those of other instants.
    code = (0, screen.line_box(0)[1], 400, screen.line_box(1)[3])
    others = [round(seconds * FPS) for seconds in (1.0, 2.0, 3.0, 4.0, 4.6)]
    distances = {n: mean_difference(shown.crop(code), pictures[n].crop(code)) for n in [*others, index]}
    assert min(distances, key=lambda n: distances[n]) == index, distances


def test_the_thumbnail_is_the_final_frame(replayed: Replayed) -> None:
    final = decoded(replayed.result.video, replayed.result.duration - 0.1)
    with Image.open(replayed.result.thumbnail) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert mean_difference(thumbnail.convert("RGB"), final) < SAME_PICTURE


def test_the_captions_carry_the_driver_changes_and_the_chat(replayed: Replayed) -> None:
    cues: list[tuple[float, str]] = []
    with av.open(str(replayed.result.captions)) as container:  # ffmpeg's WebVTT demuxer
        stream = container.streams.subtitles[0]
        for packet in container.demux(stream):
            if packet.pts is not None:
                cues.append((float(packet.pts * packet.time_base), bytes(packet).decode()))
    assert cues == [
        (0.0, "Ana assume o teclado, Bruno navega"),
        (pytest.approx(3.0), f"Bruno: {CHAT}"),  # 30 s: halfway through the idle stretch (2.5 s + 0.5 s)
        (pytest.approx(3.5), "Bruno assume o teclado, Ana navega"),
    ]


def test_progress_is_ffmpegs_and_rises_to_100(replayed: Replayed) -> None:
    progress = replayed.progress
    assert progress[-1] == 100.0
    assert all(later > earlier for earlier, later in itertools.pairwise(progress))
    assert len([value for value in progress if 0 < value < 100]) >= 5


def test_a_missing_frame_fails_and_leaves_nothing(tmp_path: Path) -> None:
    instants = frame_instants(spec(), history())
    with pytest.raises(RenderError, match="no frame at"):
        render_replay(
            spec(), history(), frames_for(instants[:10] + instants[11:]), tmp_path, lambda _: None, time_limit=60
        )
    assert list(tmp_path.iterdir()) == []


def test_a_cancel_while_encoding_stops_ffmpeg_and_leaves_nothing(tmp_path: Path) -> None:
    cancel = threading.Event()
    instants = frame_instants(spec(), history())

    def frames() -> Iterator[Frame]:
        for index, found in enumerate(frames_for(instants)):
            if index == 20:
                cancel.set()
            yield found

    with pytest.raises(RenderCancelled):
        render_replay(spec(), history(), frames(), tmp_path, lambda _: None, time_limit=60, cancel=cancel)
    assert list(tmp_path.iterdir()) == []
