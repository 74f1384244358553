"""POC search benchmark: 16 concurrent HTTP clients per query shape, side by side with PostgreSQL alone.

    .venv/bin/python bench/poc_seed.py      # once: 1,000,000 POCs over 100 tenants
    .venv/bin/python bench/poc_search.py [--duration 15] [--clients 16] [--shapes text,language,...]

Theory of operation. The catalogue seeded by bench/poc_seed.py lives in an embedded PostgreSQL under
the state dir. The script starts the identity and POC services the way production runs them
(`pocdojo serve identity|poc`, settings from the environment, JSON logs at INFO; `--instances` POC
processes, 2 by default, as production runs at least two tasks behind the load balancer),
signs one user of every tenant in over HTTP, and then, for each query shape, runs `--clients`
closed-loop clients (each sends its next request as soon as the previous answer is read) for
`--duration` seconds after a warm-up, every request drawn at random: a random tenant (so tenant sizes
from ~5k to ~54k POCs all appear) and random parameters for the shape. The client is a minimal
HTTP/1.1 keep-alive client so that the load generator costs as little CPU as possible (it shares the
machine with the server and PostgreSQL).

"PostgreSQL alone" runs the same shapes with the same random draws through the service's own code
(`poc_api.search.run`: `Database.tenant_fetch`, one statement that sets the tenant context and
searches, on a pool with the service's session settings), with a pool of `--pool` connections like the
service's and `--clients` callers at once. The
ratio column is HTTP time / PostgreSQL time for the same shape and percentile.

The machine may be shared: CPU used per request by our processes (the POC service, PostgreSQL, this
client) is measured with psutil, and so is the share of the machine other processes used meanwhile.

Shapes: text (relevance, typos and accents included), language (newest first), tag (newest first),
combined (text + language + tag), deep (a cursor 500-10,000 rows deep, newest first or by name).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deploy.local import DATABASE, DatabaseUrls, EmbeddedEnvironment  # noqa: E402
from poc_api import cursor as cursors  # noqa: E402
from poc_api.search import SERVER_SETTINGS, SearchParams, run  # noqa: E402
from runtime.ports import free_port  # noqa: E402

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from poc_seed import (  # noqa: E402
    GENERIC_TAGS,
    LANGUAGE_WEIGHTS,
    META_FILE,
    TECH,
    TOPICS,
    add_keep_postgres,
    stop_postgres,
)

SHAPES = ("text", "language", "tag", "combined", "deep")
TEXT_QUERIES = (
    "pagamentos", "pix", "fraudes", "kubernetes", "integracao", "chatbot", "credito", "estoque",
    "notas fiscais", "reconhecimento facial", "recommendation", "pipeline dados", "graphql", "kafka",
    "telemedicina", "logistica", "checkout", "lgpd", "marketplace", "delivery", "observabilidade",
    "streaming video", "assinatura digital", "open finance", "fidelidade", "iot", "ocr", "frete",
    "payments integration", "fraud detection", "kafka kubernetes", "semantic search", "gemeo digital",
    # typos and missing accents, as people type them
    "pagamnetos", "kuberntes", "integrasao", "telemedicna", "recomendacao", "reconhecimento fasial",
    "observabilidad", "conciliacao bancaria", "detecao fraude",
)  # fmt: skip


# -- a minimal HTTP/1.1 keep-alive client ----------------------------------------------------------------
class HttpConnection:
    """One keep-alive connection; `get` returns (status, body). Enough HTTP for our own server."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def get(self, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            await self._connect()
        assert self.reader is not None and self.writer is not None
        lines = [f"GET {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"connection" and value.strip().lower() == b"close":
                close = True
        body = await self.reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            await self.writer.wait_closed()
            self.writer = self.reader = None


# -- environment --------------------------------------------------------------------------------------
@dataclass
class Tenant:
    slug: str
    tenant_id: str
    size: int
    owners: list[str]
    token: str = ""
    deep: list[tuple[str, str]] = field(default_factory=list)
    """(sort, cursor) pairs positioned 500-10,000 rows deep."""


@dataclass
class Service:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def start_service(name: str, port: int, env: dict[str, str], log_dir: Path, suffix: str = "") -> Service:
    log = log_dir / f"bench-{name}{suffix}.log"
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "deploy.cli", "serve", name, "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Service(name, port, process, log)


async def wait_ready(service: Service, within: float = 60) -> None:
    deadline = time.monotonic() + within
    conn = HttpConnection("127.0.0.1", service.port)
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited: see {service.log}")
        try:
            status, _ = await conn.get("/readyz", {})
            if status == 200:
                await conn.close()
                return
        except (OSError, asyncio.IncompleteReadError):
            await conn.close()
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{service.name} not ready after {within} s: see {service.log}")


def stop_service(service: Service) -> None:
    if service.process.poll() is None:
        os.killpg(service.process.pid, signal.SIGTERM)
        try:
            service.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()


async def sign_in(identity_port: int, meta: dict[str, Any], tenants: list[Tenant]) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{identity_port}", timeout=30) as http:
        for tenant, raw in zip(tenants, meta["tenants"], strict=True):
            user = raw["users"][0]
            response = await http.post(
                "/v1/auth/token",
                data={
                    "grant_type": "password",
                    "tenant": tenant.slug,
                    "username": user["email"],
                    "password": meta["password"],
                },
            )
            response.raise_for_status()
            tenant.token = response.json()["access_token"]


async def deep_cursors(conn: asyncpg.Connection[asyncpg.Record], tenants: list[Tenant], rng: random.Random) -> None:
    """For every tenant, cursors 500-10,000 rows deep, made as the API makes them."""
    for tenant in tenants:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant.tenant_id)
            for sort, order in (("-created_at", "created_at DESC, id DESC"), ("name", "name_key, id")):
                for _ in range(10):
                    depth = rng.randint(500, min(10_000, tenant.size - 50))
                    row = await conn.fetchrow(
                        f"SELECT created_at, id, name_key FROM poc.pocs ORDER BY {order} OFFSET $1 LIMIT 1",  # noqa: S608
                        depth,
                    )
                    assert row is not None
                    params = SearchParams(sort=sort)
                    key: tuple[Any, ...] = (
                        (cursors.to_micros(row["created_at"]), row["id"])
                        if sort == "-created_at"
                        else (row["name_key"], row["id"])
                    )
                    print_ = cursors.fingerprint(params.fingerprint_parts())
                    tenant.deep.append((sort, cursors.encode(sort, print_, key)))


# -- the query shapes -----------------------------------------------------------------------------------
LANGUAGES = [name for name, _ in LANGUAGE_WEIGHTS]
LANGUAGE_W = [weight for _, weight in LANGUAGE_WEIGHTS]
TAGS = sorted({t for topic in TOPICS for t in topic[2]} | {t for _, t in TECH} | set(GENERIC_TAGS))


def draw(shape: str, rng: random.Random, tenant: Tenant) -> tuple[dict[str, Any], SearchParams]:
    """Random HTTP query parameters for a shape, and the same search as the service will run it."""
    if shape == "text":
        q = rng.choice(TEXT_QUERIES)
        return {"q": q}, SearchParams(q=q, sort="relevance")
    if shape == "language":
        language = rng.choices(LANGUAGES, weights=LANGUAGE_W)[0]
        return {"language": language}, SearchParams(language=language)
    if shape == "tag":
        tag = rng.choice(TAGS)
        return {"tag": tag}, SearchParams(tags=(tag,))
    if shape == "combined":
        q = rng.choice(TEXT_QUERIES)
        language = rng.choices(LANGUAGES, weights=LANGUAGE_W)[0]
        tag = rng.choice(TAGS)
        since = (datetime.now(UTC) - timedelta(days=rng.choice((90, 365, 730)))).replace(microsecond=0)
        return (
            {"q": q, "language": language, "tag": tag, "created_from": since.isoformat()},
            SearchParams(q=q, language=language, tags=(tag,), created_from=since, sort="relevance"),
        )
    if shape == "deep":
        sort, cursor = rng.choice(tenant.deep)
        params = SearchParams(sort=sort)
        print_ = cursors.fingerprint(params.fingerprint_parts())
        return {"sort": sort, "cursor": cursor}, SearchParams(sort=sort, position=cursors.decode(cursor, sort, print_))
    raise ValueError(shape)


# -- load -----------------------------------------------------------------------------------------------
@dataclass
class CpuMeter:
    """CPU seconds used by our processes (by role) and by everything else on the machine.

    The machine may be shared (other test suites, other benchmarks): the share of CPU the rest used
    during a measurement is reported next to it, and so is our own CPU cost per request, which does not
    depend on how busy the machine is.
    """

    roles: dict[str, Callable[[], list[psutil.Process]]]

    def snapshot(self) -> tuple[dict[str, float], float]:
        ours: dict[str, float] = {}
        for role, processes in self.roles.items():
            total = 0.0
            for process in processes():
                try:
                    times = process.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                total += times.user + times.system
            ours[role] = total
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return ours, busy


@dataclass
class Result:
    latencies_ms: list[float]
    errors: int
    elapsed: float
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds per role during the measured window."""
    others: float = 0.0
    """CPU seconds used by every other process on the machine during the window."""

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.elapsed

    def cpu_us_per_request(self, role: str) -> float:
        return self.cpu.get(role, 0.0) / max(1, len(self.latencies_ms)) * 1e6

    @property
    def others_share(self) -> float:
        """The fraction of the machine's CPU that other processes used."""
        return self.others / (self.elapsed * (psutil.cpu_count() or 1))


async def closed_loop(
    clients: int, duration: float, warmup: float, one: Callable[[int], Awaitable[bool]], meter: CpuMeter
) -> Result:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + warmup + duration
    measure_from = time.perf_counter() + warmup

    async def client(index: int) -> None:
        nonlocal errors
        while (now := time.perf_counter()) < stop_at:
            ok = await one(index)
            done = time.perf_counter()
            if now >= measure_from:
                if ok:
                    latencies.append((done - now) * 1000)
                else:
                    errors += 1

    async def measure() -> tuple[dict[str, float], float]:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        return meter.snapshot()

    started = asyncio.create_task(measure())
    await asyncio.gather(*(client(i) for i in range(clients)))
    (ours0, busy0), (ours1, busy1) = await started, meter.snapshot()
    cpu = {role: ours1[role] - ours0[role] for role in ours0}
    return Result(latencies, errors, duration, cpu, max(0.0, (busy1 - busy0) - sum(cpu.values())))


async def http_shape(
    shape: str, ports: list[int], tenants: list[Tenant], args: argparse.Namespace, meter: CpuMeter
) -> Result:
    # Clients spread over the service instances as the load balancer would spread connections.
    connections = [HttpConnection("127.0.0.1", ports[i % len(ports)]) for i in range(args.clients)]
    rngs = [random.Random(f"{args.seed}-{shape}-{i}") for i in range(args.clients)]

    async def one(index: int) -> bool:
        rng = rngs[index]
        tenant = rng.choice(tenants)
        query, _ = draw(shape, rng, tenant)
        status, body = await connections[index].get(
            "/v1/pocs?" + urlencode(query), {"Authorization": f"Bearer {tenant.token}"}
        )
        if status != 200:
            print(f"  {shape}: HTTP {status} {body[:200]!r}", file=sys.stderr)
        return status == 200

    try:
        return await closed_loop(args.clients, args.duration, args.warmup, one, meter)
    finally:
        for connection in connections:
            await connection.close()


async def pg_shape(shape: str, dsn: str, tenants: list[Tenant], args: argparse.Namespace, meter: CpuMeter) -> Result:
    from runtime.db import Database

    rngs = [random.Random(f"{args.seed}-{shape}-{i}") for i in range(args.clients)]
    # The service's pool size and session settings.
    async with Database(dsn, min_size=args.pool, max_size=args.pool, server_settings=SERVER_SETTINGS) as db:

        async def one(index: int) -> bool:
            rng = rngs[index]
            tenant = rng.choice(tenants)
            _, params = draw(shape, rng, tenant)
            await run(db, tenant.tenant_id, params)
            return True

        return await closed_loop(args.clients, args.duration, args.warmup, one, meter)


def table(results: dict[str, dict[str, Result]]) -> str:
    head = (
        "| query shape | HTTP p50 | HTTP p99 | HTTP req/s | PostgreSQL p50 | PostgreSQL p99 | PG req/s "
        "| ratio p50 | ratio p99 | CPU/request HTTP (server+PG) | CPU/request PG alone | others' CPU |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [head]
    for shape, pair in results.items():
        h, p = pair["http"], pair["pg"]
        rows.append(
            f"| {shape} | {h.pct(0.5):.1f} ms | {h.pct(0.99):.1f} ms | {h.rate:,.0f} | {p.pct(0.5):.1f} ms "
            f"| {p.pct(0.99):.1f} ms | {p.rate:,.0f} "
            f"| {h.pct(0.5) / p.pct(0.5):.2f}× | {h.pct(0.99) / p.pct(0.99):.2f}× "
            f"| {h.cpu_us_per_request('server'):.0f}+{h.cpu_us_per_request('postgres'):.0f} µs "
            f"| {p.cpu_us_per_request('postgres'):.0f} µs "
            f"| {h.others_share:.0%} / {p.others_share:.0%} |"
        )
    return "\n".join(rows)


async def vacuum(urls: DatabaseUrls) -> None:
    """VACUUM the catalogue's tables, as autovacuum keeps a production database: a migration applied
    since the seed may have rewritten a table (e.g. poc 0003), which leaves its visibility map empty and
    turns index-only scans into heap visits until the next vacuum. Quick when nothing changed."""
    admin = await asyncpg.connect(urls.admin.rsplit("/", 1)[0] + "/" + DATABASE)
    try:
        for table in ("pocs", "poc_tags", "search_postings", "search_vocabulary"):
            await admin.execute(f"VACUUM poc.{table}")
    finally:
        await admin.close()


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", type=Path, default=REPO / ".pocdojo" / "bench-poc")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds measured per shape and side")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pool", type=int, default=10, help="the POC service's connection pool (POCDOJO_DB_POOL_MAX)")
    parser.add_argument(
        "--instances", type=int, default=2, help="POC service processes (production runs ≥2 tasks behind the ALB)"
    )
    add_keep_postgres(parser)
    args = parser.parse_args(argv)
    shapes = [s for s in args.shapes.split(",") if s]
    unknown = set(shapes) - set(SHAPES)
    if unknown:
        parser.error(f"unknown shapes: {', '.join(sorted(unknown))}")

    state_dir: Path = args.state_dir.resolve()
    meta_path = state_dir / META_FILE
    if not meta_path.exists():
        parser.error(f"{meta_path} is missing: run bench/poc_seed.py first")
    meta = json.loads(meta_path.read_text())
    env = EmbeddedEnvironment(state_dir)
    try:
        return await measure(args, shapes, state_dir, meta, env)
    finally:
        stop_postgres(env, keep=args.keep_postgres)


async def measure(
    args: argparse.Namespace, shapes: list[str], state_dir: Path, meta: dict[str, Any], env: EmbeddedEnvironment
) -> int:
    """Start the services on the seeded catalogue, measure every shape, print and save the results."""
    urls = await env.prepare()
    await vacuum(urls)
    rng = random.Random(args.seed)
    tenants = [Tenant(t["slug"], t["tenant_id"], t["size"], [u["id"] for u in t["users"]]) for t in meta["tenants"]]
    conn = await asyncpg.connect(urls.service)
    try:
        await deep_cursors(conn, tenants, rng)
        pocs = 0
        for tenant in tenants:
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", tenant.tenant_id)
                pocs += await conn.fetchval("SELECT count(*) FROM poc.pocs")
    finally:
        await conn.close()
    print(f"catalogue: {pocs:,} POCs over {len(tenants)} tenants (largest {max(t.size for t in tenants):,})")

    identity_port = free_port()
    poc_ports = [free_port() for _ in range(args.instances)]
    issuer = f"http://127.0.0.1:{identity_port}"
    common = {
        "DATABASE_URL": urls.service,
        "POCDOJO_LOG_LEVEL": "INFO",
        "POCDOJO_AUTH_ISSUER": issuer,
        "POCDOJO_STATE_DIR": str(state_dir),
    }
    identity = start_service(
        "identity", identity_port, {**common, "POCDOJO_ENV": "dev", "POCDOJO_PUBLIC_URL": issuer}, state_dir
    )
    instances = [
        start_service(
            "poc",
            port,
            {
                **common,
                "POCDOJO_ENV": "production",
                "POCDOJO_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "POCDOJO_DB_POOL_MIN": str(args.pool),
                "POCDOJO_DB_POOL_MAX": str(args.pool),
            },
            state_dir,
            suffix=f"-{index}",
        )
        for index, port in enumerate(poc_ports)
    ]
    results: dict[str, dict[str, Result]] = {}
    try:
        await wait_ready(identity)
        for instance in instances:
            await wait_ready(instance)
        await sign_in(identity_port, meta, tenants)
        postmaster = psutil.Process(int((state_dir / "pg" / "data" / "postmaster.pid").read_text().split()[0]))
        servers = [psutil.Process(instance.process.pid) for instance in instances]
        meter = CpuMeter(
            {
                "server": lambda: servers,
                "postgres": lambda: [postmaster, *postmaster.children()],
                "client": lambda: [psutil.Process()],
            }
        )
        print(
            f"services up (identity :{identity_port}, poc :{', '.join(map(str, poc_ports))}); "
            f"{args.clients} clients, {args.duration:.0f} s per shape"
        )
        for shape in shapes:
            http = await http_shape(shape, poc_ports, tenants, args, meter)
            pg = await pg_shape(shape, urls.service, tenants, args, meter)
            results[shape] = {"http": http, "pg": pg}
            print(
                f"  {shape:9s} HTTP p50 {http.pct(0.5):6.1f} p99 {http.pct(0.99):6.1f} ms ({http.rate:5.0f}/s, "
                f"{http.errors} errors) | PG p50 {pg.pct(0.5):6.1f} p99 {pg.pct(0.99):6.1f} ms ({pg.rate:5.0f}/s)\n"
                f"  {'':9s} CPU per request: HTTP server {http.cpu_us_per_request('server'):4.0f} µs + PostgreSQL "
                f"{http.cpu_us_per_request('postgres'):4.0f} µs + client {http.cpu_us_per_request('client'):3.0f} µs"
                f" | PG alone: PostgreSQL {pg.cpu_us_per_request('postgres'):4.0f} µs + client "
                f"{pg.cpu_us_per_request('client'):3.0f} µs | other processes used {http.others_share:.0%} / "
                f"{pg.others_share:.0%} of the machine",
                flush=True,
            )
    finally:
        for instance in instances:
            stop_service(instance)
        stop_service(identity)
    print()
    print(table(results))
    out = state_dir / f"poc-search-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    out.write_text(
        json.dumps(
            {
                shape: {
                    side: {
                        "p50_ms": r.pct(0.5),
                        "p99_ms": r.pct(0.99),
                        "mean_ms": statistics.fmean(r.latencies_ms) if r.latencies_ms else None,
                        "requests": len(r.latencies_ms),
                        "errors": r.errors,
                        "per_second": r.rate,
                        "cpu_us_per_request": {role: r.cpu_us_per_request(role) for role in r.cpu},
                        "others_cpu_share": r.others_share,
                    }
                    for side, r in pair.items()
                }
                for shape, pair in results.items()
            },
            indent=1,
        )
    )
    print(f"\nraw numbers: {out}")
    return 0


if __name__ == "__main__":
    import uvloop  # installed with uvicorn[standard]

    uvloop.install()
    raise SystemExit(asyncio.run(main()))
