"""Year-in-review renderer benchmark: a 30-POC 720p video, side by side with ffmpeg alone.

    .venv/bin/python bench/video_render.py [--repeat 3] [--resolution 720p] [--pocs 30]

Theory of operation. "Renderer" runs `media.video.render_video` in a child process (this script with
`--child`): select and plan, draw every card with Pillow, write captions and thumbnail, run ffmpeg (the
imageio-ffmpeg binary) with progress parsing, probe the MP4 with PyAV, rename. The child reports the
wall and CPU time of that call (its own CPU plus its reaped children's: ffmpeg), and this script samples
the resident memory of the child's whole process tree (the child and ffmpeg, summed) every 20 ms for the
peak. "ffmpeg alone" first draws the same cards into a folder (not timed), then runs exactly the command
the renderer runs for them (`media.video.graph.encode_command`, the same graph, `-progress pipe:1`
included) as a bare subprocess, timed and sampled the same way. The two run alternately `--repeat`
times and the fastest run of each is kept (the machine may be shared; its load average is printed).
Targets: renderer ≤ 1.3 × ffmpeg alone, ≤ 30 s. Figures also go to `bench/results/<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from media.reports.model import PocRow  # noqa: E402
from media.video import Period, VideoSpec, render_video  # noqa: E402
from media.video.graph import encode_command  # noqa: E402
from media.video.plan import Plan, plan_video  # noqa: E402
from media.video.render import Drawn, draw_cards  # noqa: E402
from media.video.spec import select_pocs  # noqa: E402

END = datetime(2026, 11, 30, 12, tzinfo=UTC)
LANGUAGES = ("Python", "Go", "TypeScript", "Rust", "Kotlin", "Elixir", "Gleam", "Java", "C#", "Zig")
NAMES = ("Editor colaborativo", "Realtime cursors", "Busca com acentuação", "Gráficos ao vivo 📈", "CRDT playground")


def rows(count: int, end: datetime = END) -> list[PocRow]:
    """`count` POCs of one user created over the 12 months before `end` (accents and emoji in the names)."""
    return [
        PocRow(
            id=f"poc-{index:04d}",
            name=f"{NAMES[index % len(NAMES)]} #{index}",
            description="",
            github_url=f"https://github.com/ana-conceicao/poc-{index}",
            language=LANGUAGES[index % len(LANGUAGES)],
            tags=("crdt", "yjs", "websocket")[: 1 + index % 3],
            owner_id="user-1",
            created_at=end - timedelta(days=1 + index * 360 / count),
        )
        for index in range(count)
    ]


def spec(resolution: str) -> VideoSpec:
    return VideoSpec("Ana Conceição", "Acme Ltda", Period.last_12_months(END), resolution, "pt-BR")  # type: ignore[arg-type]


@dataclass
class Run:
    wall: float
    cpu: float
    peak_rss_mib: float


class TreeSampler:
    """Peak of the summed RSS of a process and its descendants, sampled every 20 ms in a thread."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for process in tree:
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak = max(self.peak, total)

    def finish(self) -> float:
        self.stop.set()
        self.thread.join()
        return self.peak / 2**20


def prepare_alone(video_spec: VideoSpec, pocs: Sequence[PocRow], folder: Path) -> tuple[Plan, Drawn, list[str]]:
    """What "ffmpeg alone" encodes: the cards of `video_spec`'s video of `pocs` drawn into `folder` (not timed),
    and the renderer's own ffmpeg command for them (writing `folder/alone.mp4`)."""
    plan = plan_video(select_pocs(pocs, video_spec.period))
    drawn = draw_cards(video_spec, plan, folder, lambda _: None)
    return plan, drawn, encode_command(plan, drawn.images, folder / "alone.mp4")


def child(out_dir: Path, count: int, resolution: str) -> None:
    """In the child process: one render, its wall and CPU time (ffmpeg's included) as JSON on stdout."""
    before_self, before_children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    started = time.perf_counter()
    result = render_video(spec(resolution), rows(count), out_dir, lambda _: None, time_limit=300)
    wall = time.perf_counter() - started
    after_self, after_children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(
        getattr(after, field) - getattr(before, field)
        for before, after in ((before_self, after_self), (before_children, after_children))
        for field in ("ru_utime", "ru_stime")
    )
    print(json.dumps({"wall": wall, "cpu": cpu, "duration": result.duration, "size": result.size}))


def run_renderer(count: int, resolution: str) -> tuple[Run, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="video-bench-") as folder:
        process = subprocess.Popen(
            [sys.executable, __file__, "--child", folder, "--pocs", str(count), "--resolution", resolution],
            stdout=subprocess.PIPE,
            text=True,
        )
        sampler = TreeSampler(process.pid)
        out, _ = process.communicate()
        peak = sampler.finish()
        if process.returncode != 0:
            raise SystemExit(f"the renderer failed with exit status {process.returncode}")
    report = json.loads(out)
    return Run(report["wall"], report["cpu"], peak), report


def run_ffmpeg_alone(command: list[str], *, new_session: bool = False) -> Run:
    """`command` as a bare subprocess: wall, CPU (reaped), peak RSS. `new_session`: in a session of its own, so
    in a scheduler autogroup of its own (Linux gives each session one), as a worker started with
    `start_new_session` is."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=new_session
    )
    sampler = TreeSampler(process.pid)
    process.wait()
    wall = time.perf_counter() - started
    peak = sampler.finish()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise SystemExit(f"ffmpeg failed with exit status {process.returncode}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return Run(wall, cpu, peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pocs", type=int, default=30)
    parser.add_argument("--resolution", choices=("720p", "1080p"), default="720p")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.pocs, args.resolution)
        return

    renderer_runs: list[Run] = []
    alone_runs: list[Run] = []
    report: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="video-bench-cards-") as folder:
        plan, _, command = prepare_alone(spec(args.resolution), rows(args.pocs), Path(folder))
        for _ in range(args.repeat):
            run, report = run_renderer(args.pocs, args.resolution)
            renderer_runs.append(run)
            alone_runs.append(run_ffmpeg_alone(command))
    best_renderer = min(renderer_runs, key=lambda run: run.wall)
    best_alone = min(alone_runs, key=lambda run: run.wall)
    load = os.getloadavg()

    print(
        f"{args.pocs} POCs, {args.resolution}: a {report['duration']:.1f} s video "
        f"({plan.shown} POC cards, {len(plan.slots)} cards), {report['size'] / 2**20:.1f} MiB; "
        f"best of {args.repeat}; load average {load[0]:.2f} on {os.cpu_count()} CPUs"
    )
    print(f"{'':<16}{'wall s':>10}{'CPU s':>10}{'peak RSS MiB':>14}")
    for name, run in (("renderer", best_renderer), ("ffmpeg alone", best_alone)):
        print(f"{name:<16}{run.wall:>10.2f}{run.cpu:>10.2f}{run.peak_rss_mib:>14.1f}")
    ratio = best_renderer.wall / best_alone.wall
    cpu_ratio = best_renderer.cpu / best_alone.cpu
    print(f"{'ratio':<16}{ratio:>10.2f}{cpu_ratio:>10.2f}")
    print(
        f"targets: renderer ≤ 1.3 × ffmpeg alone: {'met' if ratio <= 1.3 else 'MISSED'}; "
        f"≤ 30 s: {'met' if best_renderer.wall <= 30 else 'MISSED'}"
    )
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    path = results / f"video-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(
        json.dumps(
            {
                "pocs": args.pocs,
                "resolution": args.resolution,
                "video_seconds": report["duration"],
                "renderer": [asdict(run) for run in renderer_runs],
                "ffmpeg_alone": [asdict(run) for run in alone_runs],
                "ratio_wall": ratio,
                "ratio_cpu": cpu_ratio,
                "load_average": load,
            },
            indent=2,
        )
    )
    print(f"written to {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
