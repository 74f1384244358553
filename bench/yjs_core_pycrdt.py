"""pycrdt: one side of bench/yjs_cores.py (read the protocol there).

    .venv/bin/python bench/yjs_core_pycrdt.py local|remote <trace.json.gz> <runs> <updates-file>

Prints one JSON line like bench/yjs_core_node.mjs. pycrdt keeps the document in Rust (yrs), outside the
Python heap, so there is no heap figure: its memory is the process's peak RSS.
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import json
import resource
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pycrdt import Doc, Text, TransactionEvent


def read_frames(path: Path) -> list[bytes]:
    data = path.read_bytes()
    frames, pos = [], 0
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        frames.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return frames


def write_frames(path: Path, frames: list[bytes]) -> None:
    path.write_bytes(b"".join(len(f).to_bytes(4, "big") + f for f in frames))


def replay_local(trace: dict[str, Any]) -> tuple[Doc[Any], Text, list[bytes], float]:
    doc: Doc[Any] = Doc(client_id=1)
    text = doc.get("text", type=Text)
    updates: list[bytes] = []

    def on_update(event: TransactionEvent) -> None:
        updates.append(event.update)

    doc.observe(on_update)
    started = time.perf_counter()
    for txn in trace["txns"]:
        for pos, deleted, inserted in txn["patches"]:
            with doc.transaction():
                if deleted:
                    del text[pos : pos + deleted]
                if inserted:
                    text.insert(pos, inserted)
    return doc, text, updates, time.perf_counter() - started


def apply_remote(frames: list[bytes]) -> tuple[Doc[Any], Text, list[bytes], float]:
    doc: Doc[Any] = Doc(client_id=2)
    text = doc.get("text", type=Text)
    started = time.perf_counter()
    for update in frames:
        doc.apply_update(update)
    return doc, text, frames, time.perf_counter() - started


def main() -> None:
    mode, trace_path, runs_arg, updates_arg = sys.argv[1:5]
    trace = json.loads(gzip.decompress(Path(trace_path).read_bytes()))
    updates_path = Path(updates_arg)
    times: list[float] = []
    text_ok = True
    digest, update_bytes = "", 0
    for i in range(int(runs_arg)):
        gc.collect()
        if mode == "local":
            _doc, text, updates, seconds = replay_local(trace)
        else:
            _doc, text, updates, seconds = apply_remote(read_frames(updates_path))
        times.append(seconds)
        text_ok = text_ok and str(text) == trace["endContent"]
        if i == 0:
            digest = hashlib.sha256(b"".join(updates)).hexdigest()
            update_bytes = sum(map(len, updates))
            if mode == "local":
                write_frames(updates_path, updates)
    result = {
        "impl": "pycrdt",
        "version": f"pycrdt {version('pycrdt')}, Python {sys.version.split()[0]}",
        "mode": mode,
        "edits": sum(len(t["patches"]) for t in trace["txns"]),
        "seconds": times,
        "peak_heap": None,
        "doc_heap": None,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "text_ok": text_ok,
        "updates_sha256": digest,
        "update_bytes": update_bytes,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
