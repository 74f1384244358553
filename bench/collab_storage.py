"""Storage figures on the automerge-paper trace: update-log size vs the merged document, the size
after compaction, and the time to load the document cold from PostgreSQL into a room.

    .venv/bin/python bench/collab_storage.py [--trace PATH] [--batch 200]

It uses the production pieces: `dojo.docstore.PostgresDocumentStore` on an embedded PostgreSQL
(throwaway directory), and for the cold load a `crdt.RoomManager` with the `PersistenceExtension`
joining the room exactly as a first client would. The 259,778 per-edit updates come from the same
cache as the trace scenario of `collab_load.py` (built once with pycrdt). They are appended in batches
of `--batch` (what the persistence debounce produces under fast typing).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from pycrdt import Doc, Text  # noqa: E402
from trace_cache import load_or_build, read_frames  # noqa: E402

from crdt import (  # noqa: E402
    PersistenceExtension,
    RoomManager,
    SyncUpdate,
    decode_message,
    merge_updates,
)
from deploy.local import EmbeddedEnvironment  # noqa: E402
from dojo.docstore import PostgresDocumentStore, room_key  # noqa: E402
from runtime.db import Database  # noqa: E402

DEFAULT_TRACE = ROOT.parent / "shared" / "data" / "editing-traces" / "automerge-paper.json.gz"


class _Sink:
    """A channel that keeps nothing (the cold-load measurement needs a joiner, not a reader)."""

    key = 1

    def send(self, message: object) -> None:
        return None

    def close(self, code: int, reason: str = "") -> None:
        return None


def _text(update: bytes) -> str:
    doc: Doc[object] = Doc()
    doc.apply_update(update)
    return str(doc.get("text", type=Text))


async def run(trace: Path, batch: int, end_content: str) -> dict[str, float]:
    frames = load_or_build(trace, ROOT / "bench" / "anchors")
    updates: list[bytes] = []
    for frame in read_frames(frames.path):
        message = decode_message(frame)
        if isinstance(message, SyncUpdate):
            updates.append(message.update)
    merged = merge_updates(updates)
    state = Path(tempfile.mkdtemp(prefix="pocdojo-bench-storage-"))
    env = EmbeddedEnvironment(state)
    urls = await env.prepare()
    results: dict[str, float] = {"edits": len(updates), "merged_bytes": len(merged)}
    try:
        async with Database(urls.service, max_size=4) as db:
            store = PostgresDocumentStore(db)
            name = room_key(uuid.uuid4(), "automerge-paper")
            started = time.perf_counter()
            for i in range(0, len(updates), batch):
                await store.append(name, updates[i : i + batch])
            results["append_seconds"] = time.perf_counter() - started
            results["log_bytes"] = await store.stored_bytes(name)
            results["cold_load_log_ms"] = await _cold_load(store, name, end_content)
            started = time.perf_counter()
            assert await store.compact(name)
            results["compact_seconds"] = time.perf_counter() - started
            results["compacted_bytes"] = await store.stored_bytes(name)
            results["cold_load_compacted_ms"] = await _cold_load(store, name, end_content)
            loaded = await store.load(name)
            assert _text(merge_updates(loaded)) == end_content
    finally:
        env.postgres.stop()
        shutil.rmtree(state, ignore_errors=True)
    return results


async def _cold_load(store: PostgresDocumentStore, name: str, end_content: str) -> float:
    """Milliseconds from a first join of the cold room to the room holding the whole document."""
    async with RoomManager([PersistenceExtension(store)]) as manager:
        started = time.perf_counter()
        room = await manager.join(name, _Sink(), readonly=True)
        elapsed = (time.perf_counter() - started) * 1000
        assert _text(room.state_update()) == end_content
        manager.leave(room, _Sink())
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trace", type=Path, default=DEFAULT_TRACE)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    end_content = json.loads(gzip.decompress(args.trace.read_bytes()))["endContent"]
    r = asyncio.run(run(args.trace, args.batch, end_content))
    print(f"automerge-paper: {int(r['edits']):,} edits, merged document {int(r['merged_bytes']):,} bytes")
    print(f"{'what':<44}{'value':>16}")
    rows = [
        ("update log before compaction (bytes)", f"{int(r['log_bytes']):,}"),
        ("  ratio to the merged document", f"{r['log_bytes'] / r['merged_bytes']:.1f}x"),
        ("after compaction (bytes)", f"{int(r['compacted_bytes']):,}"),
        ("  ratio to the merged document (target <= 2x)", f"{r['compacted_bytes'] / r['merged_bytes']:.2f}x"),
        ("append, batches of updates (s)", f"{r['append_seconds']:.2f}"),
        ("compaction (s)", f"{r['compact_seconds']:.2f}"),
        ("cold load from the uncompacted log (ms)", f"{r['cold_load_log_ms']:.0f}"),
        ("cold load after compaction (ms)", f"{r['cold_load_compacted_ms']:.0f}"),
    ]
    for label, value in rows:
        print(f"{label:<44}{value:>16}")


if __name__ == "__main__":
    main()
