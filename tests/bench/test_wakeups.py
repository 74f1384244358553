"""bench/collab_cluster.py's `wakeups`: a process's sleeps (voluntary context switches), summed over
processes; a process that is gone counts nothing instead of failing the step."""

from __future__ import annotations

import psutil
from collab_cluster import wakeups

from tests.bench.children import child_after

SLEEPS = 50
SLEEPER = f"""
import time
for _ in range({SLEEPS}):
    time.sleep(0.001)
"""


def test_each_sleep_of_a_process_is_a_wakeup_and_a_gone_process_counts_nothing() -> None:
    with child_after(SLEEPER) as child:
        proc = psutil.Process(child.pid)
        slept = wakeups([proc])
        assert slept >= SLEEPS  # every time.sleep gave the CPU up (start-up adds some more)
        assert wakeups([proc, proc]) >= 2 * SLEEPS
    assert wakeups([proc]) == 0  # exited: counted as nothing, no NoSuchProcess
