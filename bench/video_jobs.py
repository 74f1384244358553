"""Year-in-review video jobs benchmark (issue 14): a 30-POC 720p video made end to end through the real API
and a separate worker process, side by side with ffmpeg alone encoding the same frames, in one run.

    .venv/bin/python bench/video_jobs.py [--pocs 30] [--resolution 720p] [--repeat 3]

Theory of operation. The script prepares its own embedded PostgreSQL (state in --state-dir, the same code
path as `pocdojo dev`) and a tenant whose administrator (display name "Ana Conceição", tenant "Acme Ltda")
owns --pocs POCs created over the last 12 months (bench/video_render.py's rows: accents and emoji in the
names), plus POCs the video must leave out (5 of theirs older than 12 months, 5 of another member). The
tenant and its users are made once through the identity service's code (bench/poc_seed.py); the POCs are
inserted again at each run (their dates follow the clock), as the superuser, with the POC tables' own
triggers indexing them. It then starts identity, POC and media as `pocdojo serve` processes on 127.0.0.1
(bench/reports_jobs.py's `running_services`; media with its local object store) and signs in over HTTP.

Each run has two legs, alternated --repeat times (the machine may be shared); the fastest of each is kept:

* **job**: a fresh `pocdojo worker media` process (default settings), idle for --settle s; then
  `POST /v1/videos {"resolution": ..., "locale": "pt-BR"}` (period: last 12 months), followed with
  long-polls until done. Job time = the video's `finished_at` (PostgreSQL's clock, the same host clock)
  minus the time the POST was sent: the POST's own work (the POC service freezes the period's search into
  an export, identity gives the names), the queue, the worker's reading, drawing the cards, encoding,
  probing and storing the three files. Worker CPU = user + system of the worker's process tree during the
  job, ffmpeg included (the worker reaps it, so its time lands in the worker's children's times); worker
  peak RSS = the largest summed RSS of the worker's process tree (the worker and ffmpeg) sampled every
  --sample-ms (the worker's own VmHWM beside it). The MP4 is then downloaded through `/download` and its
  size checked.
* **ffmpeg alone**: bench/video_render.py's measurement. The same cards are drawn into a folder (not
  timed) from the same spec (the names stored with the video, its period, resolution and locale) and the
  same POCs (the POC service's `GET /v1/pocs` with the video's own search: owner=me, created in the
  period), then the renderer's own ffmpeg command for them (`media.video.graph.encode_command`, the same
  graph) runs as a bare subprocess: wall, CPU, peak RSS of its tree every 20 ms. Like the worker it runs in
  a session of its own (Linux's scheduler gives each session its own autogroup, which weighs in a busy
  machine's CPU shares). That they are the same
  frames is checked: the same number of cards, the planned duration against the job's MP4, and the job's
  thumbnail (the title card as JPEG) against the bench's title card encoded the same way.

Targets (issue 14): job ≤ 1.3 × ffmpeg alone, job ≤ 30 s on the 2-core machine; pass/FAIL is printed for
each. The load average before and after, and the share of the CPU that processes other than ours used
during each job, are printed. Every figure also goes to `<state-dir>/video-jobs-<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from poc_seed import PASSWORD, BenchTenant, create_tenants, superuser_dsn  # noqa: E402
from reports_jobs import (  # noqa: E402
    MB,
    Bench,
    CpuMeter,
    high_water_mark,
    rss_of,
    rss_sampler,
    running_services,
    stage_times,
    stamp,
    start_worker,
    verdict,
)
from video_render import Run, prepare_alone, rows, run_ffmpeg_alone  # noqa: E402

from deploy.local import DatabaseUrls, EmbeddedEnvironment  # noqa: E402
from media.reports.model import PocRow  # noqa: E402
from media.video import Period, VideoSpec  # noqa: E402
from runtime.settings import Settings  # noqa: E402

META_FILE = "bench-video.json"
TENANT_NAME = "Acme Ltda"
USER_NAME = "Ana Conceição"
LEFT_OUT = 5
"""POCs the video must not show, of each kind: the user's older than 12 months, another member's."""
RATIO_TARGET = 1.3
SECONDS_TARGET = 30.0


# -- seed -----------------------------------------------------------------------------------------------
async def tenant(urls: DatabaseUrls, state_dir: Path) -> BenchTenant:
    """The bench's tenant (made once through the identity service's code), named for the cards."""
    meta_path = state_dir / META_FILE
    if meta_path.exists():
        found = BenchTenant(**json.loads(meta_path.read_text())["tenant"])
    else:
        settings = Settings(
            env="dev", database_url=urls.service, migration_database_url=urls.owner, state_dir=state_dir, log_json=True
        )
        (found,) = await create_tenants(settings, 1, [0], random.Random(14))
        meta_path.write_text(json.dumps({"password": PASSWORD, "tenant": found.__dict__}, indent=1))
    conn = await asyncpg.connect(superuser_dsn(urls))
    try:
        await conn.execute("UPDATE identity.tenants SET name = $1 WHERE id = $2::uuid", TENANT_NAME, found.tenant_id)
        await conn.execute(
            "UPDATE identity.users SET display_name = $1 WHERE id = $2::uuid", USER_NAME, found.users[0]["id"]
        )
    finally:
        await conn.close()
    return found


def catalogue(owner: str, other: str, count: int, now: datetime) -> list[PocRow]:
    """`count` POCs of `owner` in the last 12 months, then those the video leaves out."""
    shown = rows(count, end=now)
    older = [
        replace(row, id=f"old-{index}", created_at=now - timedelta(days=400 + index))
        for index, row in enumerate(rows(LEFT_OUT, end=now))
    ]
    others = [replace(row, id=f"other-{index}", owner_id=other) for index, row in enumerate(rows(LEFT_OUT, end=now))]
    everything = [replace(row, owner_id=owner) for row in shown] + [replace(row, owner_id=owner) for row in older]
    everything += others
    return [
        replace(row, id=str(uuid.uuid4()), github_url=f"https://github.com/ana-conceicao/bench-video-{index}")
        for index, row in enumerate(everything)
    ]


async def seed_pocs(urls: DatabaseUrls, bench_tenant: BenchTenant, count: int) -> None:
    """Replace the tenant's POCs (as the superuser; the insert trigger indexes them for the search)."""
    pocs = catalogue(bench_tenant.users[0]["id"], bench_tenant.users[1]["id"], count, datetime.now(UTC))
    conn = await asyncpg.connect(superuser_dsn(urls))
    try:
        async with conn.transaction():
            await conn.execute("DELETE FROM poc.pocs WHERE tenant_id = $1::uuid", bench_tenant.tenant_id)
            await conn.executemany(
                "INSERT INTO poc.pocs (tenant_id, id, owner_id, name, github_url, language, tags, created_at,"
                " updated_at) VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $8)",
                [
                    (
                        bench_tenant.tenant_id,
                        p.id,
                        p.owner_id,
                        p.name,
                        p.github_url,
                        p.language,
                        list(p.tags),
                        p.created_at,
                    )
                    for p in pocs
                ],
            )
    finally:
        await conn.close()


# -- the two legs ---------------------------------------------------------------------------------------
@dataclass
class JobRun:
    post_to_done_s: float
    post_to_start_ms: float
    run_s: float
    """started_at → finished_at: the worker's whole run."""
    stages_s: dict[str, float]
    worker_cpu_s: float
    rss_before_mib: float
    peak_rss_mib: float
    vmhwm_mib: float
    others_cpu: float
    video_seconds: float
    size_bytes: int
    poc_count: int


@dataclass
class Same:
    """What shows that ffmpeg alone encoded the job's frames."""

    cards: int
    planned_seconds: float
    job_video_seconds: float
    thumbnail_identical: bool


class VideoBench:
    def __init__(self, args: argparse.Namespace, bench: Bench, services_pids: list[int], urls: DatabaseUrls) -> None:
        self.args = args
        self.bench = bench
        self.http = bench.http
        self.media = bench.media
        self.pids = services_pids
        self.urls = urls
        self.size = 0  # the key of the tenant's token in `bench.tokens`

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bench.tokens[self.size]}"}

    async def job(self) -> tuple[JobRun, dict[str, Any]]:
        worker = await start_worker(self.bench.env, self.args.state_dir, "worker-video")
        try:
            await asyncio.sleep(self.args.settle)
            pid = worker.process.pid
            mine = CpuMeter([pid])
            meter = CpuMeter([*self.pids, pid, os.getpid()])
            cpu_before, rss_before = mine.ours(), rss_of(pid)
            window = meter.snapshot()
            with rss_sampler(pid, self.args.sample_ms / 1000) as samples:
                sent = time.time()
                response = await self.http.post(
                    f"{self.media}/v1/videos",
                    json={"resolution": self.args.resolution, "locale": "pt-BR"},
                    headers=self.auth,
                )
                if response.status_code != 202:
                    raise RuntimeError(f"POST /v1/videos: {response.status_code} {response.text[:300]}")
                seen: dict[str, float] = {}
                done = await self.bench.follow(self.size, response.json()["id"], seen=seen, collection="videos")
            others = CpuMeter.others_share(window, meter.snapshot())
            cpu = mine.ours() - cpu_before
            hwm = high_water_mark(pid)
        finally:
            worker.stop()
        if done["poc_count"] != self.args.pocs:
            raise RuntimeError(f"the video's search found {done['poc_count']} POCs, expected {self.args.pocs}")
        mp4 = await self.file(done["id"], "download")
        if len(mp4) != done["size_bytes"]:
            raise RuntimeError(f"downloaded {len(mp4)} bytes, the video says {done['size_bytes']}")
        started, finished = stamp(done["started_at"]), stamp(done["finished_at"])
        return JobRun(
            post_to_done_s=finished - sent,
            post_to_start_ms=(started - sent) * 1000,
            run_s=finished - started,
            stages_s=stage_times(started, seen, finished),
            worker_cpu_s=cpu,
            rss_before_mib=rss_before / MB,
            peak_rss_mib=max(samples, default=rss_before) / MB,
            vmhwm_mib=hwm / MB,
            others_cpu=others,
            video_seconds=done["duration_seconds"],
            size_bytes=done["size_bytes"],
            poc_count=done["poc_count"],
        ), done

    async def file(self, video_id: str, part: str) -> bytes:
        """One of a finished video's files, through the API's redirect to its signed URL."""
        redirect = await self.http.get(f"{self.media}/v1/videos/{video_id}/{part}", headers=self.auth)
        if redirect.status_code != 302:
            raise RuntimeError(f"{part}: {redirect.status_code} {redirect.text[:200]}")
        body = await self.http.get(redirect.headers["location"])
        body.raise_for_status()
        return body.content

    async def spec_of(self, video: dict[str, Any]) -> VideoSpec:
        """The job's spec: the names stored with the video at its POST, its period, resolution and locale."""
        conn = await asyncpg.connect(superuser_dsn(self.urls))
        try:
            header = json.loads(
                await conn.fetchval("SELECT header::text FROM media.videos WHERE id = $1::uuid", video["id"])
            )
        finally:
            await conn.close()
        period = Period(
            "last-12-months", datetime.fromisoformat(video["period_start"]), datetime.fromisoformat(video["period_end"])
        )
        return VideoSpec(header["user_name"], header["tenant_name"], period, video["resolution"], video["locale"])

    async def pocs_of(self, poc_service: str, video: dict[str, Any]) -> list[PocRow]:
        """The POCs the video's own search finds (owner=me, created in its period), from the POC service."""
        params = {"owner": "me", "created_from": video["period_start"], "created_to": video["period_end"]}
        response = await self.http.get(f"{poc_service}/v1/pocs", params={**params, "limit": 100}, headers=self.auth)
        response.raise_for_status()
        return [PocRow.from_api(item) for item in response.json()["items"]]


def jpeg(image: Any) -> bytes:
    """A card as the renderer saves its thumbnail."""
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


# -- output ---------------------------------------------------------------------------------------------
def table(job: JobRun, alone: Run, repeat: int) -> str:
    ratio = job.post_to_done_s / alone.wall
    lines = [
        f"| best of {repeat} | wall s | CPU s | peak RSS MiB |",
        "|---|---:|---:|---:|",
        f"| job: POST → done (worker run {job.run_s:.2f} s: "
        + ", ".join(f"{stage} {seconds:.2f}" for stage, seconds in job.stages_s.items())
        + f"; POST → start {job.post_to_start_ms:.0f} ms; worker idle RSS {job.rss_before_mib:.0f} MiB, "
        f"VmHWM {job.vmhwm_mib:.0f} MiB; others used {job.others_cpu:.0%} of the CPU) "
        f"| {job.post_to_done_s:.2f} | {job.worker_cpu_s:.2f} | {job.peak_rss_mib:.0f} |",
        f"| ffmpeg alone, the same frames and graph | {alone.wall:.2f} | {alone.cpu:.2f} | {alone.peak_rss_mib:.0f} |",
        f"| ratio job / ffmpeg alone | {ratio:.2f} | {job.worker_cpu_s / alone.cpu:.2f} | – |",
        "",
        "| target | figure | result |",
        "|---|---:|---|",
        f"| job ≤ {RATIO_TARGET:g} × ffmpeg alone | {ratio:.2f} × | {verdict(ratio <= RATIO_TARGET)} |",
        f"| job ≤ {SECONDS_TARGET:g} s | {job.post_to_done_s:.2f} s "
        f"| {verdict(job.post_to_done_s <= SECONDS_TARGET)} |",
    ]
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=REPO / ".pocdojo" / "bench-video",
        help="the embedded PostgreSQL, the tenant, the stored videos, the logs and the JSON results",
    )
    parser.add_argument("--pocs", type=int, default=30, help="the user's POCs of the last 12 months (default 30)")
    parser.add_argument("--resolution", choices=("720p", "1080p"), default="720p")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each leg, alternated; the fastest is kept")
    parser.add_argument("--sample-ms", type=float, default=20.0, help="RSS sampling period of the worker")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between a worker's start and the POST")
    args = parser.parse_args(argv)
    if not 1 <= args.pocs <= 100:
        parser.error("--pocs: from 1 to 100 (one page of the POC service's search)")
    if args.repeat < 1:
        parser.error("--repeat: at least 1")
    args.state_dir = args.state_dir.resolve()
    state_dir: Path = args.state_dir

    load_before = os.getloadavg()
    print(f"load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} on {psutil.cpu_count()} CPUs")
    env = EmbeddedEnvironment(state_dir)
    urls = await env.prepare()
    jobs: list[JobRun] = []
    alone: list[Run] = []
    same: Same | None = None
    try:
        bench_tenant = await tenant(urls, state_dir)
        await seed_pocs(urls, bench_tenant, args.pocs)
        async with httpx.AsyncClient(timeout=60) as http, running_services(http, urls, state_dir) as services:
            bench = Bench(args, http, services.base["media"], services.media_env)
            videos = VideoBench(args, bench, services.pids, urls)
            with tempfile.TemporaryDirectory(prefix="video-jobs-cards-") as folder:
                command: list[str] | None = None
                for index in range(args.repeat):
                    await bench.sign_in(services.base["identity"], [bench_tenant])  # tokens last 15 min
                    run, video = await videos.job()
                    jobs.append(run)
                    print(
                        f"  job {index + 1}: POST → done {run.post_to_done_s:6.2f} s, worker CPU "
                        f"{run.worker_cpu_s:.2f} s, peak RSS {run.peak_rss_mib:.0f} MiB, {run.poc_count} POCs, "
                        f"{run.video_seconds:.1f} s video, {run.size_bytes / MB:.1f} MiB, others {run.others_cpu:.0%}",
                        flush=True,
                    )
                    if command is None:
                        spec = await videos.spec_of(video)
                        pocs = await videos.pocs_of(services.base["poc"], video)
                        plan, drawn, command = prepare_alone(spec, pocs, Path(folder))
                        thumbnail = await videos.file(video["id"], "thumbnail")
                        same = Same(
                            cards=len(plan.slots),
                            planned_seconds=plan.duration,
                            job_video_seconds=video["duration_seconds"],
                            thumbnail_identical=thumbnail == jpeg(drawn.cards[0].image),
                        )
                        print(f"  same frames: {same}", flush=True)
                    alone.append(run_ffmpeg_alone(command, new_session=True))
                    print(
                        f"  ffmpeg alone {index + 1}: {alone[-1].wall:6.2f} s, CPU {alone[-1].cpu:.2f} s, "
                        f"peak RSS {alone[-1].peak_rss_mib:.0f} MiB",
                        flush=True,
                    )
    finally:
        if env.postgres.started_here:
            env.postgres.stop()
    load_after = os.getloadavg()
    best_job = min(jobs, key=lambda run: run.post_to_done_s)
    best_alone = min(alone, key=lambda run: run.wall)
    print()
    print(
        f"{args.pocs} POCs of the last 12 months, {args.resolution}: a {best_job.video_seconds:.1f} s video "
        f"({same.cards if same else '?'} cards), {best_job.size_bytes / MB:.1f} MiB"
    )
    print(table(best_job, best_alone, args.repeat))
    pairs = [job.post_to_done_s / run.wall for job, run in zip(jobs, alone, strict=True)]
    print("each run's job / ffmpeg alone (run just after it): " + ", ".join(f"{ratio:.2f}" for ratio in pairs))
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min) on {psutil.cpu_count()} CPUs")
    out = state_dir / f"video-jobs-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    out.write_text(
        json.dumps(
            {
                "pocs": args.pocs,
                "resolution": args.resolution,
                "load_before": load_before,
                "load_after": load_after,
                "jobs": [asdict(run) for run in jobs],
                "ffmpeg_alone": [asdict(run) for run in alone],
                "same_frames": asdict(same) if same else None,
                "ratio": best_job.post_to_done_s / best_alone.wall,
                "ratio_per_run": pairs,
            },
            indent=1,
        )
    )
    print(f"raw numbers: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
