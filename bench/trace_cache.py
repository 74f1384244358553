"""Editing-trace updates for the trace scenario, precomputed once with pycrdt and cached on disk.

The writer client owns one ``pycrdt.Doc`` (client id 1) whose ``Text`` ``"text"`` replays the sequential
trace one patch per transaction; each transaction's update becomes one y-websocket sync-update payload
(``[0, 2, varUint8Array(update)]``). A last payload sets a key in a separate ``Map`` whose value contains
``loadgen.TRACE_SENTINEL``: the receiver stops the clock when it sees it (servers keep each sender's
order), and the text is still compared to the trace's ``endContent``.

Cache file (``bench/anchors/trace-<sha256 of the .json.gz, 16 hex>-pycrdt<version>.bin``): the magic
``CLTRACE1``, then per payload a 4-byte big-endian length and the bytes. Building it takes a few seconds
(position-based ``Text.insert`` slows down as the text fragments); reading it a fraction of that.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from loadgen import TRACE_SENTINEL
from pycrdt import Doc, Map, Text, TransactionEvent

from crdt import encode_sync_update

MAGIC = b"CLTRACE1"
WRITER_CLIENT_ID = 1


@dataclass(frozen=True)
class TraceFrames:
    path: Path
    edits: int
    end_sha256: str
    end_len: int
    build_seconds: float | None


def read_frames(path: str | Path) -> Iterator[bytes]:
    data = Path(path).read_bytes()
    if not data.startswith(MAGIC):
        raise ValueError(f"{path}: not a trace cache file")
    pos = len(MAGIC)
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + 4], "big")
        yield data[pos + 4 : pos + 4 + n]
        pos += 4 + n


def load_or_build(trace: Path, cache_dir: Path) -> TraceFrames:
    raw = trace.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()[:16]
    parsed = json.loads(gzip.decompress(raw))
    if parsed.get("startContent"):
        raise ValueError(f"{trace}: traces with a start content are not supported")
    end = parsed["endContent"]
    end_sha = hashlib.sha256(end.encode()).hexdigest()
    edits = sum(len(t["patches"]) for t in parsed["txns"])
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"trace-{digest}-pycrdt{version('pycrdt')}.bin"
    if path.exists():
        return TraceFrames(path, edits, end_sha, len(end), None)

    started = time.perf_counter()
    doc: Doc[Any] = Doc(client_id=WRITER_CLIENT_ID)
    text = doc.get("text", type=Text)
    marks = doc.get("bench", type=Map)
    updates: list[bytes] = []

    def on_update(event: TransactionEvent) -> None:
        updates.append(event.update)

    doc.observe(on_update)
    for txn in parsed["txns"]:
        for pos, deleted, inserted in txn["patches"]:
            with doc.transaction():
                if deleted:
                    del text[pos : pos + deleted]
                if inserted:
                    text.insert(pos, inserted)
    if str(text) != end:
        raise AssertionError(f"{trace}: replaying the patches did not give endContent")
    marks["end"] = TRACE_SENTINEL.decode()
    if len(updates) != edits + 1:
        raise AssertionError(f"expected {edits + 1} updates, got {len(updates)}")
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as out:
        out.write(MAGIC)
        for update in updates:
            payload = encode_sync_update(update)
            out.write(len(payload).to_bytes(4, "big"))
            out.write(payload)
    tmp.replace(path)
    return TraceFrames(path, edits, end_sha, len(end), time.perf_counter() - started)
