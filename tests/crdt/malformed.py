"""Deterministic corpora of malformed Yjs updates (for the fuzz tests of the engine's error mapping).

``rich_update`` builds a document's update with a *fixed* client ID: with a random one (pycrdt's
default) the bytes differ per run, and so does which mutation hits which engine error — the fuzz
test then failed in about one run in twelve instead of every time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from pycrdt import Doc, Map, Text

from crdt import UpdateRejected
from crdt.updates import check_update

MUTATIONS = ("truncate", "flip", "delete", "random")


def rich_update(client_id: int = 1) -> bytes:
    """Text edits with deletions and map entries, as one update from ``client_id``."""
    src: Doc[Any] = Doc(client_id=client_id)
    text = src.get("text", type=Text)
    mapping = src.get("m", type=Map)
    rng = random.Random(7)
    for i in range(40):
        text.insert(rng.randrange(len(text) + 1), "ab€😀")
        if len(text) > 6:
            del text[2:4]
        mapping[str(i)] = {"i": i}
    return src.get_update()


def mutate(update: bytes, seed: int) -> bytes:
    """One deterministic mutation of ``update`` (the kind and place are drawn from ``seed``)."""
    rng = random.Random(seed)
    raw = bytearray(update)
    kind = MUTATIONS[seed % len(MUTATIONS)]
    if kind == "truncate":
        raw = raw[: rng.randrange(len(raw))]
    elif kind == "flip":
        for _ in range(rng.randint(1, 4)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    elif kind == "delete":
        start = rng.randrange(len(raw))
        del raw[start : start + rng.randint(1, 8)]
    else:
        raw = bytearray(rng.randbytes(rng.randrange(65)))
    return bytes(raw)


def corpus(seeds: int, client_ids: tuple[int, ...] = (1, 2)) -> Iterator[bytes]:
    """``seeds`` mutations of :func:`rich_update` per client ID."""
    for client_id in client_ids:
        update = rich_update(client_id)
        for seed in range(seeds):
            yield mutate(update, seed)


def integrating_part_way() -> bytes:
    """The first update of :func:`corpus` that pycrdt decodes but fails to integrate into an empty
    document (``RuntimeError``) after integrating some of its blocks."""
    for update in corpus(4000):
        if check_update_ok(update):
            doc: Doc[Any] = Doc()
            try:
                doc.apply_update(update)
            except ValueError:
                continue
            except RuntimeError:
                return update
    raise AssertionError("the corpus holds no update that fails part-way: pycrdt changed")


def check_update_ok(update: bytes) -> bool:
    """False for the updates crdt refuses before the engine sees them (absurd client counts)."""
    try:
        check_update(update)
    except UpdateRejected:
        return False
    return True
