"""Integrating another node's changes in a batch: one engine step per update, or merged first.

    .venv/bin/python bench/integrate_batch.py [--updates 8000] [--repeat 3]

A node relays the changes it reads from the shared log to its connections at once and integrates them
into its own document in batches (`crdt.Room.relay`). `crdt.sync.apply_updates` merges a batch with the
engine (`pycrdt.merge_updates`) and applies the result once; before, it applied each update in turn
inside one transaction. Both ways are timed here on the same keystroke updates (the automerge-paper
trace, several authors), per update, as CPU time of this process, for several batch sizes.
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any

from pycrdt import Doc
from room_micro import keystroke_frames, update_of

from crdt.engine import engine_errors
from crdt.sync import apply_updates


def one_by_one(doc: Doc[Any], updates: list[bytes]) -> None:
    """The former way: each update its own engine step, in one transaction."""
    with doc.transaction(origin="bench"):
        for update in updates:
            with engine_errors("refused"):
                doc.apply_update(update)


def timed(updates: list[bytes], batch: int, apply: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        doc: Doc[Any] = Doc()
        gc.collect()
        start = time.process_time()
        for at in range(0, len(updates), batch):
            apply(doc, updates[at : at + batch])
        best = min(best, time.process_time() - start)
    return best / len(updates) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=8000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    updates = [update_of(frame) for frame in keystroke_frames(args.updates)]
    print(f"{len(updates)} keystroke updates; CPU per update, best of {args.repeat}")
    print(f"{'batch':>5}  {'one by one':>11}  {'merged':>8}  {'ratio':>6}")
    for batch in (1, 2, 4, 8, 16, 32):
        before = timed(updates, batch, one_by_one, args.repeat)
        merged = timed(updates, batch, lambda doc, part: apply_updates(doc, part, "bench"), args.repeat)
        print(f"{batch:>5}  {before:>9.2f}µs  {merged:>6.2f}µs  {before / merged:>5.2f}x")


if __name__ == "__main__":
    main()
