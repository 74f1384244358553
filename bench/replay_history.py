"""Dojo replay history on the concurrent `friendsforever` trace: two authors (its two agents) over one hour.

    .venv/bin/python bench/replay_history.py [--trace PATH] [--instants 200] [--seed 18]

Production pieces on an embedded PostgreSQL (throwaway directory): a `crdt.Room` whose two connections
are the trace's agents, with `dojo.replay.recorder.HistoryRecorder` (default settings: batches of 500,
a checkpoint every 1000 updates or 300 s) writing `dojo.history_*` through `HistoryStore`. The recorder's
clock is the trace's: the 26,078 transactions are spread evenly over one hour. Each agent's updates are
made as in tests/js/replay_concurrent.mjs (each agent edits its own pycrdt Doc at the trace's parents
version, so concurrent edits are real Yjs concurrency), inside the dojo layout (Y.Map `files`, one Y.Text
created by an authorless seed). Then `state?at=` is rebuilt (`HistoryStore.replayer_at`, what the API
calls: nearest checkpoint + the updates after it, read from PostgreSQL) at random instants.
Prints: history bytes per final-document byte, the p50/p99 rebuild time, the checkpoint count.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from pycrdt import Doc, Map, Text, TransactionEvent  # noqa: E402

from crdt import Outbound, Room, encode_sync_update  # noqa: E402
from deploy.local import EmbeddedEnvironment  # noqa: E402
from dojo.docstore import room_key  # noqa: E402
from dojo.replay.recorder import HistoryRecorder  # noqa: E402
from dojo.replay.store import HistoryStore  # noqa: E402
from dojo.sessions import DojoSessions  # noqa: E402
from runtime.db import Database  # noqa: E402

DEFAULT_TRACE = ROOT / "tests" / "data" / "editing-traces" / "friendsforever.json.gz"
PATH = "friendsforever.txt"
HOUR = timedelta(hours=1)


class _Agent:
    """A connection as the room sees it (the bench reads nothing back)."""

    def __init__(self, key: int) -> None:
        self.key = key

    def send(self, message: Outbound) -> None:
        return None

    def close(self, code: int, reason: str = "") -> None:
        raise RuntimeError(f"agent {self.key} closed with {code}: {reason}")


def agent_updates(trace: dict[str, Any]) -> tuple[bytes, list[tuple[int, bytes]]]:
    """The seed (creates the file) and, in trace order, (agent, the Yjs update its transaction made)."""
    seed_doc: Doc[Any] = Doc(client_id=1000)
    seed_doc.get("files", type=Map)[PATH] = Text()
    seed = seed_doc.get_update()
    agents = trace["numAgents"]
    docs: list[Doc[Any]] = []
    for a in range(agents):
        doc: Doc[Any] = Doc(client_id=2000 + a)
        doc.apply_update(seed)
        docs.append(doc)
    made: list[list[bytes]] = [[] for _ in range(agents)]
    merged = [[0] * agents for _ in range(agents)]  # merged[a][b]: b's updates a's doc holds
    version: list[list[int]] = []  # per transaction: per agent, how many of its transactions it includes
    index_in_agent: list[int] = []
    out: list[tuple[int, bytes]] = []
    for txn in trace["txns"]:
        a = txn["agent"]
        vec = [0] * agents
        for p in txn["parents"]:
            for b in range(agents):
                vec[b] = max(vec[b], version[p][b])
            vec[trace["txns"][p]["agent"]] = max(vec[trace["txns"][p]["agent"]], index_in_agent[p] + 1)
        doc = docs[a]
        for b in range(agents):
            if b != a:
                while merged[a][b] < vec[b]:
                    doc.apply_update(made[b][merged[a][b]])
                    merged[a][b] += 1
        text = doc.get("files", type=Map)[PATH]
        events: list[TransactionEvent] = []
        sub = doc.observe(events.append)
        with doc.transaction():
            for pos, delete, *insert in txn["patches"]:
                if delete:
                    del text[pos : pos + delete]
                if insert and insert[0]:
                    text.insert(pos, insert[0])
        doc.unobserve(sub)
        update = events[0].update
        index_in_agent.append(len(made[a]))
        own = [0] * agents
        own[:] = vec
        own[a] = len(made[a]) + 1
        version.append(own)
        made[a].append(update)
        out.append((a, update))
    return seed, out


async def run(trace: dict[str, Any], instants: int, seed: int, every: int, seconds: float) -> dict[str, float]:
    started_build = time.perf_counter()
    seed_update, updates = agent_updates(trace)
    build_seconds = time.perf_counter() - started_build
    state = Path(tempfile.mkdtemp(prefix="pocdojo-bench-replay-"))
    env = EmbeddedEnvironment(state)
    urls = await env.prepare()
    tenant, users = uuid.uuid4(), [str(uuid.uuid4()), str(uuid.uuid4())]
    try:
        async with Database(urls.service, max_size=4) as db:
            dojo = await DojoSessions(db, max_participants=10).create(
                str(tenant), users[0], title="friendsforever", poc_id=None, language=None,
                locked=False, lobby=False, randori_seconds=None,
            )  # fmt: skip
            start = dojo.started_at
            step = HOUR / len(updates)
            now = [start]
            store = HistoryStore(db)
            recorder = HistoryRecorder(
                store, lambda _room, key: users[key - 1], clock=lambda: now[0], checkpoint_updates=every,
                checkpoint_seconds=seconds,
            )  # fmt: skip
            name = room_key(tenant, dojo.id)
            room = Room(name, extensions=[recorder])
            agents = [_Agent(1), _Agent(2)]
            for agent in agents:
                room.add(agent)
            await recorder.on_start()
            await recorder.on_load(name)
            room.apply_server_update(seed_update, _seed_origin())
            started = time.perf_counter()
            for i, (a, update) in enumerate(updates):
                now[0] = start + step * (i + 1)
                room.receive(agents[a], encode_sync_update(update))
                if recorder.backlog >= recorder.max_queue // 2:
                    await recorder.drained()  # a real session is an hour long: the writer keeps up
            await recorder.drained()
            record_seconds = time.perf_counter() - started
            await recorder.on_shutdown()
            final_doc: Doc[Any] = Doc()
            final_doc.apply_update(room.state_update())
            final_text = str(final_doc.get("files", type=Map)[PATH])
            assert final_text == trace["endContent"], "the recorded room does not hold the trace's end"
            ident = uuid.UUID(dojo.id)
            update_bytes, checkpoint_bytes = await store.stored_bytes(tenant, ident)
            checkpoints = len(await store.checkpoints(tenant, ident))
            rng = random.Random(seed)
            timings: list[float] = []
            for _ in range(instants):
                at = start + timedelta(seconds=rng.uniform(0, HOUR.total_seconds()))
                t0 = time.perf_counter()
                replayer, _ = await store.replayer_at(tenant, ident, at, blame=False)
                texts = replayer.texts()
                timings.append((time.perf_counter() - t0) * 1000)
                assert PATH in texts
            end, _ = await store.replayer_at(tenant, ident, None, blame=False)
            assert end.texts()[PATH] == trace["endContent"]
            timings.sort()
            return {
                "updates": len(updates),
                "build_seconds": build_seconds,
                "record_seconds": record_seconds,
                "update_bytes": update_bytes,
                "checkpoint_bytes": checkpoint_bytes,
                "document_bytes": len(room.state_update()),
                "text_bytes": len(final_text.encode()),
                "checkpoints": checkpoints,
                "p50_ms": statistics.median(timings),
                "p99_ms": timings[min(len(timings) - 1, int(len(timings) * 0.99))],
                "max_ms": timings[-1],
            }
    finally:
        env.postgres.stop()
        shutil.rmtree(state, ignore_errors=True)


def _seed_origin() -> Any:
    from crdt import ServerOrigin

    return ServerOrigin("template")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace", type=Path, default=DEFAULT_TRACE)
    parser.add_argument("--instants", type=int, default=200)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--checkpoint-updates", type=int, default=1000, help="POCDOJO_DOJO_HISTORY_CHECKPOINT_UPDATES")
    parser.add_argument("--checkpoint-seconds", type=float, default=300, help="POCDOJO_DOJO_HISTORY_CHECKPOINT_SECONDS")
    args = parser.parse_args()
    trace = json.loads(gzip.decompress(args.trace.read_bytes()))
    r = asyncio.run(run(trace, args.instants, args.seed, args.checkpoint_updates, args.checkpoint_seconds))
    history = r["update_bytes"] + r["checkpoint_bytes"]
    print(
        f"friendsforever: {int(r['updates']):,} updates by 2 authors over 1 hour;"
        f" a checkpoint every {args.checkpoint_updates} updates or {args.checkpoint_seconds:g} s"
    )
    rows = [
        ("history: updates (bytes)", f"{int(r['update_bytes']):,}"),
        ("history: checkpoints (bytes)", f"{int(r['checkpoint_bytes']):,}"),
        ("checkpoints", f"{int(r['checkpoints'])}"),
        ("final document, encoded (bytes)", f"{int(r['document_bytes']):,}"),
        ("final text (bytes)", f"{int(r['text_bytes']):,}"),
        ("history bytes per final-document byte", f"{history / r['document_bytes']:.1f}"),
        ("history bytes per final-text byte", f"{history / r['text_bytes']:.1f}"),
        ("recording (s, writer included)", f"{r['record_seconds']:.1f}"),
        (f"state?at= rebuild p50 (ms, {args.instants} instants)", f"{r['p50_ms']:.1f}"),
        ("state?at= rebuild p99 (ms, target <= 100)", f"{r['p99_ms']:.1f}"),
        ("state?at= rebuild max (ms)", f"{r['max_ms']:.1f}"),
    ]
    for label, value in rows:
        print(f"{label:<48}{value:>14}")


if __name__ == "__main__":
    main()
