"""Dojo replay video job benchmark (issue 18): the concurrent `friendsforever` trace typed by two authors over
one hour in a dojo, replayed as a video at speed 8 (720p), timed end to end on the `pocdojo dev` stack.

    .venv/bin/python bench/replay_video.py [--state-dir DIR] [--speed 8] [--resolution 720p] [--minutes 60]

Theory of operation. The script prepares an embedded PostgreSQL in --state-dir (the code path of `pocdojo
dev`), then starts `pocdojo dev` on it (identity, the dojo service, media and one in-process media worker,
as a developer runs them). Through the API it signs in the demo administrator, adds a member, starts a
dojo (the administrator hosts it) and ends it. The dojo's history is then written the way the recorder
writes it (`dojo.replay.store.HistoryStore.append` in batches, then `build_checkpoint` every 1000 updates,
as `POCDOJO_DOJO_HISTORY_CHECKPOINT_UPDATES` does): the trace's 26,078 transactions as the Yjs updates two
live clients would send (each agent's own pycrdt document, merging the other's transactions its parents
include before typing — tests/js/replay_concurrent.mjs's oracle), into `files["friends.txt"]`, agent 0 as
the administrator and agent 1 as the member, at instants spread evenly over --minutes. The session's start
and end are moved to that hour (as the superuser: the bench's only write outside the services' code).

Measured: `POST /v1/videos {kind: "dojo-replay", dojo_id, speed, resolution, locale: "en"}` until the video
is done (long-polls): job time = the video's `finished_at` (PostgreSQL's clock, the same host clock) minus
the time the POST was sent — the request's history check, the queue, reading the history and the frames
(the dojo service rebuilds every shown instant), drawing, encoding, probing and storing; the time of each
stage as the polls saw it; the MP4's duration (the 3-minute cap: an hour at 8× is 450 s, so 178 s + 2 s)
and size. The dojo service and the worker share the one `pocdojo dev` process, as in development.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from pycrdt import Doc, Map, Text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from poc_seed import superuser_dsn  # noqa: E402

from deploy.local import EmbeddedEnvironment  # noqa: E402
from dojo.replay.store import HistoryRow, HistoryStore  # noqa: E402
from runtime.db import Database  # noqa: E402
from runtime.ports import free_port  # noqa: E402

TRACE = REPO / "tests" / "data" / "editing-traces" / "friendsforever.json.gz"
PATH = "friends.txt"
LOGIN_RE = re.compile(r"demo login: tenant=(\S+) username=(\S+) password=(\S+)")
BATCH = 2000
CHECKPOINT_EVERY = 1000


@dataclass
class Trace:
    updates: list[tuple[int, bytes]]
    """(agent, the Yjs update of one transaction), in trace order; the first is the seed (agent -1)."""
    end: str


def trace_updates(path: Path) -> Trace:
    """Each transaction of the concurrent trace as the update its agent's client would send."""
    parsed = json.loads(gzip.decompress(path.read_bytes()))
    txns = parsed["txns"]
    agents = parsed["numAgents"]
    seed_doc: Doc[Any] = Doc(client_id=100)
    seed_doc.get("files", type=Map)[PATH] = Text()
    seed = seed_doc.get_update()
    docs: list[Doc[Any]] = []
    for agent in range(agents):
        doc: Doc[Any] = Doc(client_id=1 + agent)
        doc.apply_update(seed)
        docs.append(doc)
    chain_index: list[int] = []  # a transaction's place in its agent's chain
    chains: list[list[bytes]] = [[] for _ in range(agents)]
    counts = [0] * agents
    merged = [[0] * agents for _ in range(agents)]  # merged[a][b]: b's transactions in a's document
    captured: list[bytes] = []
    for doc in docs:
        doc.observe(lambda event, into=captured: into.append(event.update))
    out: list[tuple[int, bytes]] = [(-1, seed)]
    for txn in txns:
        agent = txn["agent"]
        doc = docs[agent]
        for parent in txn["parents"]:
            other = txns[parent]["agent"]
            if other == agent:
                continue
            need = chain_index[parent] + 1
            for update in chains[other][merged[agent][other] : need]:
                doc.apply_update(update)
            merged[agent][other] = max(merged[agent][other], need)
        captured.clear()
        text = doc.get("files", type=Map)[PATH]
        with doc.transaction():
            for position, deleted, inserted in txn["patches"]:
                if deleted:
                    del text[position : position + deleted]
                if inserted:
                    text.insert(position, inserted)
        update = captured[-1]
        chain_index.append(counts[agent])
        counts[agent] += 1
        chains[agent].append(update)
        out.append((agent, update))
    final: Doc[Any] = Doc()
    for _, update in out:
        final.apply_update(update)
    text = str(final.get("files", type=Map)[PATH])
    if text != parsed["endContent"]:
        raise SystemExit("the oracle's updates do not end with the trace's endContent")
    return Trace(out, text)


async def start_dev(state: Path, port: int) -> tuple[asyncio.subprocess.Process, str]:
    pocdojo = str(Path(sys.executable).parent / "pocdojo")
    proc = await asyncio.create_subprocess_exec(
        pocdojo, "dev", "--port", str(port), "--state-dir", str(state),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "POCDOJO_OPERATOR_TOKEN")},
        start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    banner = ""
    async with asyncio.timeout(180):
        while "Uvicorn running on" not in banner:
            line = await proc.stdout.readline()
            if not line:
                raise SystemExit(f"pocdojo dev exited early:\n{banner}")
            banner += line.decode()
    return proc, banner


async def token(http: httpx.AsyncClient, tenant: str, username: str, password: str) -> str:
    response = await http.post(
        "/v1/auth/token", data={"grant_type": "password", "tenant": tenant, "username": username, "password": password}
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def subject(access: str) -> tuple[uuid.UUID, uuid.UUID]:
    claims = jwt.decode(access, options={"verify_signature": False})
    return uuid.UUID(claims["sub"]), uuid.UUID(claims["tenant_id"])


async def seed_history(
    service_dsn: str, admin_dsn: str, tenant: uuid.UUID, dojo: uuid.UUID, trace: Trace,
    authors: dict[int, uuid.UUID | None], minutes: float,
) -> tuple[float, int]:  # fmt: skip
    """Write the trace's updates as the dojo's history over `minutes`; returns (seconds taken, checkpoints)."""
    started = time.perf_counter()
    begin = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes + 5)
    step = timedelta(minutes=minutes) / len(trace.updates)
    rows = [
        HistoryRow(dojo, begin + step * index, authors[agent], update)
        for index, (agent, update) in enumerate(trace.updates)
    ]
    checkpoints = 0
    async with Database(service_dsn, min_size=1, max_size=2) as db:
        store = HistoryStore(db)
        for start in range(0, len(rows), BATCH):
            await store.append(tenant, rows[start : start + BATCH])
        for cut in range(CHECKPOINT_EVERY - 1, len(rows), CHECKPOINT_EVERY):
            if await store.build_checkpoint(tenant, dojo, rows[cut].at) is not None:
                checkpoints += 1
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(
            "UPDATE dojo.sessions SET started_at = $2, ended_at = $3 WHERE id = $1",
            dojo, begin, begin + timedelta(minutes=minutes),
        )  # fmt: skip
        await conn.execute("UPDATE dojo.history_drivers SET at = $2 WHERE dojo_id = $1", dojo, begin)
    finally:
        await conn.close()
    return time.perf_counter() - started, checkpoints


async def follow(
    http: httpx.AsyncClient, auth: dict[str, str], video_id: str
) -> tuple[dict[str, Any], dict[str, float]]:
    """Long-poll the video until it is finished; the first time each stage was seen."""
    stages: dict[str, float] = {}
    while True:
        response = await http.get(f"/v1/videos/{video_id}", params={"wait": 20}, headers=auth)
        response.raise_for_status()
        video: dict[str, Any] = response.json()
        stages.setdefault(video["stage"], time.time())
        if video["status"] not in ("queued", "running"):
            return video, stages


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--speed", type=float, default=8.0)
    parser.add_argument("--resolution", default="720p", choices=("720p", "1080p"))
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args(argv)
    state = (args.state_dir or Path(tempfile.mkdtemp(prefix="pocdojo-replay-video-"))).resolve()

    built = time.perf_counter()
    trace = trace_updates(TRACE)
    print(f"trace: {len(trace.updates) - 1} transactions by 2 agents, final text {len(trace.end)} chars "
          f"(updates built in {time.perf_counter() - built:.1f} s)")  # fmt: skip
    env = EmbeddedEnvironment(state)
    urls = await env.prepare()
    port = free_port()
    proc, banner = await start_dev(state, port)
    assert proc.stdout is not None
    drain = asyncio.create_task(proc.stdout.read())
    try:
        match = LOGIN_RE.search(banner)
        assert match, banner
        tenant_slug, username, password = match.groups()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            admin = await token(http, tenant_slug, username, password)
            auth = {"Authorization": f"Bearer {admin}"}
            email = f"ana-{uuid.uuid4().hex[:6]}@example.com"
            added = await http.post("/v1/users", json={"email": email, "password": password}, headers=auth)
            added.raise_for_status()
            member = await token(http, tenant_slug, email, password)
            (admin_id, tenant_id), (member_id, _) = subject(admin), subject(member)
            dojo = (await http.post("/v1/dojos", json={"title": "friendsforever"}, headers=auth)).json()
            (await http.post(f"/v1/dojos/{dojo['id']}/end", headers=auth)).raise_for_status()
            seconds, checkpoints = await seed_history(
                urls.service, superuser_dsn(urls), tenant_id, uuid.UUID(dojo["id"]), trace,
                {-1: None, 0: admin_id, 1: member_id}, args.minutes,
            )  # fmt: skip
            print(f"history written in {seconds:.1f} s ({checkpoints} checkpoints); session {args.minutes:g} min")
            body = {"kind": "dojo-replay", "dojo_id": dojo["id"], "speed": args.speed,
                    "resolution": args.resolution, "locale": "en"}  # fmt: skip
            sent = time.time()
            created = await http.post("/v1/videos", json=body, headers=auth)
            if created.status_code != 202:
                raise SystemExit(f"POST /v1/videos answered {created.status_code}: {created.text}")
            answered = time.time()
            video, stages = await follow(http, auth, created.json()["id"])
            if video["status"] != "done":
                raise SystemExit(f"the video ended {video['status']}: {video['error']}")
            finished = datetime.fromisoformat(video["finished_at"].replace("Z", "+00:00")).timestamp()
            job = finished - sent
            marks = sorted(stages.items(), key=lambda item: item[1])
            spans = " · ".join(
                f"{stage} {(marks[i + 1][1] if i + 1 < len(marks) else finished) - at:.1f} s"
                for i, (stage, at) in enumerate(marks) if stage != "done"
            )  # fmt: skip
            result = {
                "date": datetime.now(UTC).date().isoformat(),
                "trace": "friendsforever", "transactions": len(trace.updates) - 1, "session_minutes": args.minutes,
                "speed": args.speed, "resolution": args.resolution, "post_seconds": round(answered - sent, 3),
                "job_seconds": round(job, 1), "stages": spans, "video_seconds": video["duration_seconds"],
                "video_bytes": video["size_bytes"], "cpus": os.cpu_count(),
            }  # fmt: skip
            print(json.dumps(result, indent=2))
            (state / f"replay-video-{int(time.time())}.json").write_text(json.dumps(result), encoding="utf-8")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            async with asyncio.timeout(60):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
        await drain
        env.postgres.stop(mode="fast")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
