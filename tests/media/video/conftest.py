"""Helpers for the video renderer's tests: POC rows, a spec, and reading an MP4 back with PyAV.

Videos are rendered at 720p with few POCs, with the real durations (a card lasts seconds), by the real
ffmpeg of the imageio-ffmpeg wheel. The basic video (two POCs) is rendered once per module that asks for
it and asserted on from several angles.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
from PIL import Image, ImageChops, ImageStat

from media.reports.model import PocRow
from media.video import Period, VideoResult, VideoSpec, render_video

END = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
LANGUAGES = ("Python", "Go", "TypeScript", "Rust", "Kotlin", "Gleam")


def poc(index: int, *, days_ago: float, name: str | None = None, language: str | None = None) -> PocRow:
    return PocRow(
        id=f"poc-{index:04d}",
        name=name or f"Realtime editor {index}",
        description="",
        github_url=f"https://github.com/ana/editor-{index}",
        language=language or LANGUAGES[index % len(LANGUAGES)],
        tags=("crdt", "yjs"),
        owner_id="user-1",
        created_at=END - timedelta(days=days_ago),
    )


def pocs(count: int) -> list[PocRow]:
    """`count` POCs of the last twelve months, one every ten days back from `END`."""
    return [poc(index, days_ago=1 + 10 * index) for index in range(count)]


def spec(**changes: object) -> VideoSpec:
    values: dict[str, object] = {
        "user_name": "Ana Conceição",
        "tenant_name": "Acme Ltda",
        "period": Period.last_12_months(END),
        "resolution": "720p",
        "locale": "pt-BR",
    }
    values.update(changes)
    return VideoSpec(**values)  # type: ignore[arg-type]


@dataclass
class Rendered:
    result: VideoResult
    spec: VideoSpec
    rows: list[PocRow]
    progress: list[float] = field(default_factory=list)


def render(out_dir: Path, video_spec: VideoSpec, rows: Sequence[PocRow], time_limit: float = 120) -> Rendered:
    rendered_progress: list[float] = []
    result = render_video(video_spec, rows, out_dir, rendered_progress.append, time_limit=time_limit)
    return Rendered(result, video_spec, list(rows), rendered_progress)


@pytest.fixture(scope="module")
def basic_video(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Two POCs (one named with an emoji), rendered into a folder whose name holds `%03d` (an image2
    pattern if ffmpeg were allowed to read it as one)."""
    out_dir = tmp_path_factory.mktemp("video") / "year 100%03d"
    rows = [poc(0, days_ago=3, name="Editor colaborativo 🚀"), poc(1, days_ago=40, language="Elixir")]
    return render(out_dir, spec(), rows)


def frames_at(path: Path, indexes: Sequence[int]) -> dict[int, Image.Image]:
    """The decoded frames of `path` at the given frame numbers (30 fps), as RGB images."""
    wanted = set(indexes)
    found: dict[int, Image.Image] = {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        first_second = min(wanted) / 30
        container.seek(int(first_second / stream.time_base), stream=stream, backward=True)  # a keyframe before
        for frame in container.decode(stream):
            assert frame.pts is not None
            number = round(float(frame.pts * stream.time_base) * 30)
            if number in wanted:
                found[number] = frame.to_image().convert("RGB")
            if len(found) == len(wanted):
                break
    return found


def mean_difference(first: Image.Image, second: Image.Image) -> float:
    """Mean absolute difference of two same-size RGB images, 0…255."""
    return sum(ImageStat.Stat(ImageChops.difference(first, second)).mean) / 3


def top_level_boxes(path: Path) -> Iterator[str]:
    """The types of an MP4's top-level boxes, in file order."""
    with path.open("rb") as file:
        while header := file.read(8):
            size = int.from_bytes(header[:4], "big")
            kind = header[4:8].decode("latin-1")
            if size == 0:
                yield kind
                return
            if size == 1:
                size = int.from_bytes(file.read(8), "big")
                file.seek(size - 16, 1)
            else:
                file.seek(size - 8, 1)
            yield kind
