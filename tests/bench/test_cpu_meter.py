"""bench/reports_jobs.py's CpuMeter: "others used" is the machine's busy time minus ours, so a process of
ours counted twice (the bench's own tree holds the services and the worker it started) hides other people's
load."""

from __future__ import annotations

import os

from reports_jobs import CpuMeter

from tests.bench.children import child_after

BURN = 0.3
"""CPU seconds the child spends before it idles."""
BURNER = f"""
import time
while time.process_time() < {BURN}:
    pass
"""


def test_a_process_in_two_trees_is_counted_once() -> None:
    with child_after(BURNER) as child:  # it has burnt its CPU and now only waits
        mine = CpuMeter([os.getpid()])  # this process's tree: the child included
        both = CpuMeter([child.pid, os.getpid()])  # the child is also a tree of its own
        assert sorted(both.processes()) == sorted(mine.processes())
        # The child's BURN seconds are counted once: only this process's CPU between the two reads differs.
        assert abs(both.ours() - mine.ours()) < BURN / 2
