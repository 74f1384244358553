"""Report jobs benchmark (issue 13): reports made end to end through the real services and a worker process.

    .venv/bin/python bench/reports_jobs.py [--cases pdf:10000,csv:10000,csv:1000,csv:100000] [--latency-runs 50]

Theory of operation. The script prepares its own embedded PostgreSQL (state in --state-dir, the same code
path as `pocdojo dev`), and seeds three tenants with 1,000, 10,000 and 100,000 POCs through
bench/poc_seed.py's own code: tenants and users through the identity service's code, POCs bulk-loaded
(COPY, search tables built set-based). The seed is kept and reused while the tenants' POC counts match.
It then starts the services as production runs them, each its own `pocdojo serve` process on 127.0.0.1
(identity, POC, media: local object store under the state dir), and signs each tenant's administrator in
over HTTP.

Each case (`pdf:N` / `csv:N`: a report of the N-POC tenant's whole catalogue, pt-BR) gets a fresh worker
process (`pocdojo worker media`, default settings: concurrency 2, LISTEN/NOTIFY), so its peak RSS is its
own: the script waits for the worker's "media worker started" log line and a second of quiet, notes its
RSS, sends `POST /v1/reports`, follows the report with long-polls (`?wait=`) until it is done, then
downloads the file through `/download` and checks it (size; the CSV's row count). Figures:

* POST → done: the report's `finished_at` (PostgreSQL's clock, the same host clock) minus the time the
  POST was sent;
* worker peak RSS: the largest RSS of the worker's process tree sampled with psutil every --sample-ms
  (the kernel's own high-water mark, VmHWM, is shown beside it: it also catches peaks between samples);
  growth = peak minus the RSS just before the POST;
* the 100,000- vs 1,000-POC CSV: the difference of the two workers' peaks (target ≤ 50 MB: a CSV is
  streamed page by page from the POC service's export, so memory must not follow the row count).

Queue pickup (`--latency-runs`, 50): with one fresh, idle worker, reports of the 1,000-POC tenant's CSV
are requested one at a time (each after the previous one is done and the worker has been idle for
--latency-gap seconds); per run, `started_at` (set by the worker's first statement of the job) minus the
time the POST was sent. That includes the POST's own work (the POC service freezes the search into an
export, identity is asked for the cover's names) — shown apart as "POST round trip" — and then the
NOTIFY reaching the idle worker. Two warm-up runs are not counted.

The machine may be shared: the load average before and after, and the share of the CPU that processes
other than ours used during each case, are printed and kept. Every figure also goes to
`<state-dir>/reports-jobs-<timestamp>.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from poc_seed import PASSWORD, BenchTenant, create_tenants, load, superuser_dsn  # noqa: E402

from deploy.local import DatabaseUrls, EmbeddedEnvironment  # noqa: E402
from runtime.ports import free_port  # noqa: E402
from runtime.settings import Settings  # noqa: E402

SIZES = (1_000, 10_000, 100_000)
META_FILE = "bench-reports.json"
DEFAULT_CASES = "pdf:10000,csv:10000,csv:1000,csv:100000"
PDF_TARGET_SECONDS = 15.0
GROWTH_TARGET_MB = 50.0
PICKUP_TARGET_MS = 100.0
MB = 2**20


# -- seed -----------------------------------------------------------------------------------------------
async def seeded_counts(urls: DatabaseUrls) -> dict[str, int]:
    conn = await asyncpg.connect(superuser_dsn(urls))
    try:
        rows = await conn.fetch("SELECT tenant_id::text AS tenant, count(*) AS n FROM poc.pocs GROUP BY 1")
    finally:
        await conn.close()
    return {row["tenant"]: row["n"] for row in rows}


async def seed(env: EmbeddedEnvironment, urls: DatabaseUrls, state_dir: Path, reseed: bool) -> list[BenchTenant]:
    """The three tenants, seeded unless the state dir already holds them with their POCs."""
    meta_path = state_dir / META_FILE
    if meta_path.exists() and not reseed:
        tenants = [BenchTenant(**t) for t in json.loads(meta_path.read_text())["tenants"]]
        counts = await seeded_counts(urls)
        if [counts.get(t.tenant_id, 0) for t in tenants] == list(SIZES):
            print(f"reusing the seed in {state_dir}: {', '.join(f'{t.slug} {t.size:,}' for t in tenants)}")
            return tenants
    settings = Settings(
        env="dev", database_url=urls.service, migration_database_url=urls.owner, state_dir=state_dir, log_json=True
    )
    if meta_path.exists():
        tenants = [BenchTenant(**t) for t in json.loads(meta_path.read_text())["tenants"]]
        print(f"reloading the POCs of {len(tenants)} tenants")
    else:
        print(f"creating {len(SIZES)} tenants")
        tenants = await create_tenants(settings, len(SIZES), list(SIZES), random.Random(13))
    started = time.perf_counter()
    await load(urls, tenants, seed=13)
    meta_path.write_text(json.dumps({"password": PASSWORD, "tenants": [t.__dict__ for t in tenants]}, indent=1))
    print(f"seeded {sum(SIZES):,} POCs in {time.perf_counter() - started:.0f} s")
    return tenants


# -- processes ------------------------------------------------------------------------------------------
@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def spawn(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Proc:
    log = log_dir / f"bench-reports-{name}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "deploy.cli", *argv],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Proc(name, process, log)


async def wait_ready(http: httpx.AsyncClient, proc: Proc, port: int, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise RuntimeError(f"{proc.name} exited: see {proc.log}")
        try:
            ready = (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.TransportError:
            ready = False  # not listening yet
        if ready:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready after {within} s: see {proc.log}")


async def start_worker(env: dict[str, str], log_dir: Path, name: str, within: float = 60) -> Proc:
    """A `pocdojo worker media` process, once it has logged that it started."""
    worker = spawn(name, ["worker", "media"], env, log_dir)
    deadline = time.monotonic() + within
    while b"media worker started" not in worker.log.read_bytes():
        if worker.process.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            raise RuntimeError(f"the worker did not start: see {worker.log}")
        await asyncio.sleep(0.05)
    return worker


@dataclass
class Services:
    """The identity, POC and media services running as `pocdojo serve` processes on 127.0.0.1."""

    base: dict[str, str]
    """Each service's base URL."""
    media_env: dict[str, str]
    """The media service's environment: what a `pocdojo worker media` process of the same deployment gets."""
    procs: list[Proc]
    pids: list[int]
    """The services' processes and PostgreSQL's postmaster (for CpuMeter)."""


@asynccontextmanager
async def running_services(http: httpx.AsyncClient, urls: DatabaseUrls, state_dir: Path) -> AsyncIterator[Services]:
    """Start identity, POC and media as production runs them (media: local object store under `state_dir`),
    wait until each answers /readyz, and stop them all (SIGTERM to each group) when the block ends."""
    ports = {name: free_port() for name in ("identity", "poc", "media")}
    base = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    common = {
        "DATABASE_URL": urls.service,
        "POCDOJO_LOG_LEVEL": "INFO",
        "POCDOJO_AUTH_ISSUER": base["identity"],
        "POCDOJO_STATE_DIR": str(state_dir),
        "POCDOJO_POC_SERVICE_URL": base["poc"],
        "POCDOJO_IDENTITY_SERVICE_URL": base["identity"],
        "POCDOJO_MEDIA_URL_SECRET": secrets.token_hex(32),
    }
    media_env = {**common, "POCDOJO_ENV": "production", "POCDOJO_PUBLIC_URL": base["media"]}
    procs: list[Proc] = []
    try:
        for name, extra in (
            ("identity", {"POCDOJO_ENV": "dev", "POCDOJO_PUBLIC_URL": base["identity"]}),
            ("poc", {"POCDOJO_ENV": "production", "POCDOJO_PUBLIC_URL": base["poc"]}),
            ("media", media_env),
        ):
            argv = ["serve", name, "--host", "127.0.0.1", "--port", str(ports[name])]
            procs.append(spawn(name, argv, {**common, **extra}, state_dir))
        for proc in procs:
            await wait_ready(http, proc, ports[proc.name])
        postmaster = int((state_dir / "pg" / "data" / "postmaster.pid").read_text().split()[0])
        print(f"services up: {', '.join(f'{n} {u}' for n, u in base.items())}")
        yield Services(base, media_env, procs, [proc.process.pid for proc in procs] + [postmaster])
    finally:
        for proc in reversed(procs):
            proc.stop()


# -- measurements ---------------------------------------------------------------------------------------
def tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def rss_of(pid: int) -> int:
    total = 0
    for process in tree(pid):
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def high_water_mark(pid: int) -> int:
    """The kernel's peak RSS of the process (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for {pid}")


@contextmanager
def rss_sampler(pid: int, every: float) -> Iterator[list[int]]:
    """Samples the RSS of `pid`'s process tree every `every` seconds into a list while the block runs."""
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                samples.append(rss_of(pid))
            except psutil.NoSuchProcess:
                return
            done.wait(every)

    thread = threading.Thread(target=sample, name="rss-sampler", daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        done.set()
        thread.join()


class CpuMeter:
    """CPU seconds of our processes and of the whole machine: what others used meanwhile."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids

    def processes(self) -> dict[int, psutil.Process]:
        """The processes of the `pids`' trees, each once: a tree may hold another (this script's holds the
        services and the worker it started)."""
        found: dict[int, psutil.Process] = {}
        for pid in self.pids:
            for process in tree(pid):
                found.setdefault(process.pid, process)
        return found

    def ours(self) -> float:
        total = 0.0
        for process in self.processes().values():
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue  # ended since it was listed
            total += times.user + times.system + times.children_user + times.children_system
        return total

    def snapshot(self) -> tuple[float, float, float]:
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return time.monotonic(), busy, self.ours()

    @staticmethod
    def others_share(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
        wall = after[0] - before[0]
        others = max(0.0, (after[1] - before[1]) - (after[2] - before[2]))
        return others / (wall * (psutil.cpu_count() or 1)) if wall > 0 else 0.0


def stamp(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def stage_times(started: float, seen: dict[str, float], finished: float) -> dict[str, float]:
    """Seconds per stage of a run: reading from `started`, each later stage from when it was first seen."""
    marks = [("reading", started)] + [(stage, seen[stage]) for stage in ("rendering", "uploading") if stage in seen]
    ends = [at for _, at in marks[1:]] + [finished]
    return {stage: round(end - at, 3) for (stage, at), end in zip(marks, ends, strict=True)}


@dataclass
class CaseResult:
    case: str
    pocs: int
    post_to_start_ms: float
    post_to_done_s: float
    render_s: float
    """started_at → finished_at: the worker's whole run (read, render, store)."""
    stages_s: dict[str, float]
    """The run's stages (reading, rendering, uploading), from the long-polls: each from the first answer
    that showed it to the next stage's (reading from started_at, uploading to finished_at)."""
    worker_cpu_s: float
    rss_before_mb: float
    peak_rss_mb: float
    vmhwm_mb: float
    size_bytes: int
    checked: str
    others_cpu: float


@dataclass
class Latency:
    pickup_ms: list[float] = field(default_factory=list)
    post_ms: list[float] = field(default_factory=list)
    """The POST's round trip alone (the search frozen into an export, the caller's names, the job queued)."""
    after_answer_ms: list[float] = field(default_factory=list)
    """started_at minus the time the 202 was read (negative: the worker started before the client read it)."""
    filters: dict[str, Any] = field(default_factory=dict)
    pocs: int = 0
    rows: int = 0
    """POCs in each of those reports."""
    others_cpu: float = 0.0

    @staticmethod
    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Bench:
    def __init__(self, args: argparse.Namespace, http: httpx.AsyncClient, media: str, env: dict[str, str]) -> None:
        self.args = args
        self.http = http
        self.media = media
        self.env = env
        self.tokens: dict[int, str] = {}
        self.service_pids: list[int] = []

    async def sign_in(self, identity: str, tenants: list[BenchTenant]) -> None:
        for tenant in tenants:
            response = await self.http.post(
                f"{identity}/v1/auth/token",
                data={
                    "grant_type": "password",
                    "tenant": tenant.slug,
                    "username": tenant.users[0]["email"],
                    "password": PASSWORD,
                },
            )
            response.raise_for_status()
            self.tokens[tenant.size] = response.json()["access_token"]

    async def request(
        self, fmt: str, pocs: int, filters: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], float, float]:
        """POST a report of the `pocs`-POC tenant; (the report, send time, answer time) on the wall clock."""
        auth = {"Authorization": f"Bearer {self.tokens[pocs]}"}
        body = {"format": fmt, "locale": "pt-BR", "filters": filters or {}}
        sent = time.time()
        response = await self.http.post(f"{self.media}/v1/reports", json=body, headers=auth)
        answered = time.time()
        if response.status_code != 202:
            raise RuntimeError(f"POST /v1/reports: {response.status_code} {response.text[:300]}")
        report: dict[str, Any] = response.json()
        return report, sent, answered

    async def follow(
        self,
        pocs: int,
        report_id: str,
        within: float = 600,
        seen: dict[str, float] | None = None,
        collection: str = "reports",
    ) -> dict[str, Any]:
        """Long-poll the report (or, with `collection="videos"`, the video) until it ends; `seen`: the wall time
        each stage was first seen."""
        auth = {"Authorization": f"Bearer {self.tokens[pocs]}"}
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            response = await self.http.get(
                f"{self.media}/v1/{collection}/{report_id}", params={"wait": 25}, headers=auth
            )
            response.raise_for_status()
            report: dict[str, Any] = response.json()
            if seen is not None:
                seen.setdefault(report["stage"], time.time())
            if report["status"] in ("done", "failed", "cancelled"):
                if report["status"] != "done":
                    raise RuntimeError(f"report {report_id} ended {report['status']}: {report['error']}")
                return report
        raise RuntimeError(f"report {report_id} not done after {within} s")

    async def check_file(self, fmt: str, pocs: int, report: dict[str, Any]) -> str:
        """Download the file through the API's redirect; its size, and the CSV's rows, must be right."""
        auth = {"Authorization": f"Bearer {self.tokens[pocs]}"}
        redirect = await self.http.get(f"{self.media}/v1/reports/{report['id']}/download", headers=auth)
        if redirect.status_code != 302:
            raise RuntimeError(f"download: {redirect.status_code} {redirect.text[:200]}")
        file = await self.http.get(redirect.headers["location"])
        file.raise_for_status()
        if len(file.content) != report["size_bytes"]:
            raise RuntimeError(f"downloaded {len(file.content)} bytes, the report says {report['size_bytes']}")
        if report["row_count"] != pocs:  # the whole catalogue of the `pocs`-POC tenant
            raise RuntimeError(f"row_count {report['row_count']}, expected {pocs}")
        if fmt == "csv":
            rows = sum(1 for _ in csv.reader(io.StringIO(file.content.decode("utf-8-sig")))) - 1
            if rows != pocs:
                raise RuntimeError(f"the CSV holds {rows} rows, expected {pocs}")
            return f"{rows:,} CSV rows"
        if not file.content.startswith(b"%PDF-"):
            raise RuntimeError("the PDF does not start with %PDF-")
        return "PDF"

    async def case(self, fmt: str, pocs: int) -> CaseResult:
        worker = await start_worker(self.env, self.args.state_dir, f"worker-{fmt}-{pocs}")
        try:
            await asyncio.sleep(self.args.settle)
            pid = worker.process.pid
            meter = CpuMeter([*self.service_pids, pid, os.getpid()])
            cpu_before = sum(p.cpu_times().user + p.cpu_times().system for p in tree(pid))
            rss_before = rss_of(pid)
            window = meter.snapshot()
            with rss_sampler(pid, self.args.sample_ms / 1000) as samples:
                report, sent, _ = await self.request(fmt, pocs)
                seen: dict[str, float] = {}
                done = await self.follow(pocs, report["id"], seen=seen)
            others = CpuMeter.others_share(window, meter.snapshot())
            cpu = sum(p.cpu_times().user + p.cpu_times().system for p in tree(pid)) - cpu_before
            hwm = high_water_mark(pid)
        finally:
            worker.stop()
        checked = await self.check_file(fmt, pocs, done)
        return CaseResult(
            case=f"{fmt}:{pocs}",
            pocs=pocs,
            post_to_start_ms=(stamp(done["started_at"]) - sent) * 1000,
            post_to_done_s=stamp(done["finished_at"]) - sent,
            render_s=stamp(done["finished_at"]) - stamp(done["started_at"]),
            stages_s=stage_times(stamp(done["started_at"]), seen, stamp(done["finished_at"])),
            worker_cpu_s=cpu,
            rss_before_mb=rss_before / MB,
            peak_rss_mb=max(samples, default=rss_before) / MB,
            vmhwm_mb=hwm / MB,
            size_bytes=done["size_bytes"],
            checked=checked,
            others_cpu=others,
        )

    async def latency(self, runs: int, warmup: int, pocs: int, filters: dict[str, Any]) -> Latency:
        worker = await start_worker(self.env, self.args.state_dir, "worker-latency")
        result = Latency(filters=filters, pocs=pocs)
        try:
            await asyncio.sleep(self.args.settle)
            meter = CpuMeter([*self.service_pids, worker.process.pid, os.getpid()])
            window = meter.snapshot()
            for index in range(warmup + runs):
                await asyncio.sleep(self.args.latency_gap)  # the worker is idle, waiting for a notification
                report, sent, answered = await self.request("csv", pocs, filters)
                done = await self.follow(pocs, report["id"])
                if index >= warmup:
                    started = stamp(done["started_at"])
                    result.pickup_ms.append((started - sent) * 1000)
                    result.post_ms.append((answered - sent) * 1000)
                    result.after_answer_ms.append((started - answered) * 1000)
                    result.rows = done["row_count"]
            result.others_cpu = CpuMeter.others_share(window, meter.snapshot())
        finally:
            worker.stop()
        return result


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**FAIL**"


def table(cases: dict[str, CaseResult], latency: Latency | None) -> str:
    lines = [
        "| measure | figure | target | result |",
        "|---|---:|---|---|",
    ]
    for name, r in cases.items():
        fmt = name.split(":")[0].upper()
        what = f"{r.pocs:,}-POC {fmt}"
        target, result = "–", "–"
        if name == "pdf:10000":
            target, result = f"≤ {PDF_TARGET_SECONDS:g} s", verdict(r.post_to_done_s <= PDF_TARGET_SECONDS)
        lines.append(
            f"| {what}: POST → done (worker run {r.render_s:.2f} s: "
            + ", ".join(f"{stage} {seconds:.2f}" for stage, seconds in r.stages_s.items())
            + f"; worker CPU {r.worker_cpu_s:.2f} s; "
            f"others used {r.others_cpu:.0%} of the CPU) | {r.post_to_done_s:.2f} s | {target} | {result} |"
        )
        lines.append(
            f"| {what}: worker peak RSS (before the POST {r.rss_before_mb:.0f} MB; VmHWM {r.vmhwm_mb:.0f} MB) "
            f"| {r.peak_rss_mb:.0f} MB | – | – |"
        )
    small, large = cases.get("csv:1000"), cases.get("csv:100000")
    if small and large:
        growth = large.peak_rss_mb - small.peak_rss_mb
        lines.append(
            f"| 100,000- vs 1,000-POC CSV: worker peak RSS growth (VmHWM: {large.vmhwm_mb - small.vmhwm_mb:+.1f} MB) "
            f"| {growth:+.1f} MB | ≤ {GROWTH_TARGET_MB:g} MB | {verdict(growth <= GROWTH_TARGET_MB)} |"
        )
    if latency and latency.pickup_ms:
        p50, p95 = Latency.pct(latency.pickup_ms, 0.5), Latency.pct(latency.pickup_ms, 0.95)
        search = ", ".join(f"{k}={v}" for k, v in latency.filters.items()) or "the whole catalogue"
        lines.append(
            f"| POST sent → worker starts the job, idle worker, {len(latency.pickup_ms)} runs of a "
            f"{latency.rows:,}-POC CSV ({latency.pocs:,}-POC tenant, {search}): p50 / p95 "
            f"(the POST's round trip alone p50 {Latency.pct(latency.post_ms, 0.5):.0f} / p95 "
            f"{Latency.pct(latency.post_ms, 0.95):.0f} ms; from the 202 to the start p50 "
            f"{Latency.pct(latency.after_answer_ms, 0.5):.1f} / p95 "
            f"{Latency.pct(latency.after_answer_ms, 0.95):.1f} ms; "
            f"others used {latency.others_cpu:.0%} of the CPU) "
            f"| {p50:.0f} / {p95:.0f} ms | p50 ≤ {PICKUP_TARGET_MS:g} ms | {verdict(p50 <= PICKUP_TARGET_MS)} |"
        )
    return "\n".join(lines)


def parse_cases(text: str) -> list[tuple[str, int]]:
    cases = []
    for item in filter(None, text.split(",")):
        fmt, _, count = item.partition(":")
        if fmt not in ("pdf", "csv") or not count.isdigit() or int(count) not in SIZES:
            raise argparse.ArgumentTypeError(f"{item!r}: a case is pdf:N or csv:N with N among {SIZES}")
        cases.append((fmt, int(count)))
    return cases


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=REPO / ".pocdojo" / "bench-reports",
        help="the embedded PostgreSQL, the seed, the stored reports, the logs and the JSON results",
    )
    parser.add_argument(
        "--cases",
        type=parse_cases,
        default=parse_cases(DEFAULT_CASES),
        help=f"reports to time, each with a fresh worker: FORMAT:POCS,... (default {DEFAULT_CASES})",
    )
    parser.add_argument("--latency-runs", type=int, default=50, help="POST → job start runs (0: skip)")
    parser.add_argument("--latency-warmup", type=int, default=2, help="runs before those, not counted")
    parser.add_argument("--latency-pocs", type=int, choices=SIZES, default=1_000, help="the latency runs' tenant")
    parser.add_argument(
        "--latency-filter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a filter of the latency runs' reports, as GET /v1/pocs takes it (repeatable; tag=... may repeat): "
        "a narrower search makes a smaller export, so a shorter POST",
    )
    parser.add_argument(
        "--latency-gap", type=float, default=0.3, help="seconds the worker stays idle before each latency run"
    )
    parser.add_argument("--sample-ms", type=float, default=20.0, help="RSS sampling period of the worker")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds between a worker's start and its first POST")
    parser.add_argument("--reseed", action="store_true", help="reload the POCs even if the seed is there")
    args = parser.parse_args(argv)
    args.state_dir = args.state_dir.resolve()
    latency_filters: dict[str, Any] = {}
    for item in args.latency_filter:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--latency-filter {item!r}: NAME=VALUE")
        if name == "tag":
            latency_filters.setdefault("tag", []).append(value)
        else:
            latency_filters[name] = value
    state_dir: Path = args.state_dir

    load_before = os.getloadavg()
    print(f"load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} on {psutil.cpu_count()} CPUs")
    env = EmbeddedEnvironment(state_dir)
    urls = await env.prepare()
    results: dict[str, CaseResult] = {}
    latency: Latency | None = None
    try:
        tenants = await seed(env, urls, state_dir, args.reseed)
        async with httpx.AsyncClient(timeout=60) as http, running_services(http, urls, state_dir) as services:
            bench = Bench(args, http, services.base["media"], services.media_env)
            bench.service_pids = services.pids
            for fmt, pocs in args.cases:
                await bench.sign_in(services.base["identity"], tenants)  # a fresh token per case (they last 15 min)
                result = await bench.case(fmt, pocs)
                results[result.case] = result
                print(
                    f"  {result.case:10s} POST → done {result.post_to_done_s:6.2f} s (start after "
                    f"{result.post_to_start_ms:4.0f} ms)  worker peak RSS {result.peak_rss_mb:5.0f} MB "
                    f"(before {result.rss_before_mb:.0f}, VmHWM {result.vmhwm_mb:.0f})  CPU {result.worker_cpu_s:.2f} s"
                    f"  {result.checked}, {result.size_bytes:,} bytes  others {result.others_cpu:.0%}",
                    flush=True,
                )
            if args.latency_runs > 0:
                await bench.sign_in(services.base["identity"], tenants)
                latency = await bench.latency(
                    args.latency_runs, args.latency_warmup, args.latency_pocs, latency_filters
                )
                print(
                    f"  pickup     p50 {Latency.pct(latency.pickup_ms, 0.5):.0f} ms, p95 "
                    f"{Latency.pct(latency.pickup_ms, 0.95):.0f} ms over {len(latency.pickup_ms)} runs "
                    f"(min {min(latency.pickup_ms):.0f}, max {max(latency.pickup_ms):.0f}); POST round trip p50 "
                    f"{Latency.pct(latency.post_ms, 0.5):.0f} ms; {latency.rows:,} POCs per report",
                    flush=True,
                )
    finally:
        if env.postgres.started_here:
            env.postgres.stop()
    load_after = os.getloadavg()
    print()
    print(table(results, latency))
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    out = state_dir / f"reports-jobs-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    out.write_text(
        json.dumps(
            {
                "load_before": load_before,
                "load_after": load_after,
                "cases": {name: asdict(r) for name, r in results.items()},
                "latency": asdict(latency) if latency else None,
                "statistics": {"pickup_mean_ms": statistics.fmean(latency.pickup_ms)} if latency else None,
            },
            indent=1,
        )
    )
    print(f"raw numbers: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
