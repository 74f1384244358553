"""bench/collab_cluster.py's `user_and_kernel`: a process's CPU in user space and in the kernel, summed over
processes; the two add up to what the bench counts as the process's CPU, and a process that is gone
counts nothing instead of failing the step."""

from __future__ import annotations

import psutil
from collab_cluster import _cpu, user_and_kernel

from tests.bench.children import child_after

SPIN = """
total = 0
for i in range(3_000_000):
    total += i
"""
"""Work in user space only (no system call in the loop; reading the clock would be one)."""

SYSCALLS = """
import os
for _ in range(200_000):
    os.stat(".")
"""
"""Many system calls: the kernel's time."""


def test_user_and_kernel_time_are_told_apart_and_add_up_to_the_cpu() -> None:
    with child_after(SPIN) as spinner, child_after(SYSCALLS) as caller:
        spun, called = psutil.Process(spinner.pid), psutil.Process(caller.pid)
        user, kernel = user_and_kernel([spun])
        assert user >= 0.05 and user > 2 * kernel  # start-up costs some of both, the loop only user time
        assert user_and_kernel([called])[1] > 0
        both = user_and_kernel([spun, called])
        total = _cpu([spun, called])
        assert abs(sum(both) - total) < 0.05  # read again a moment later: the waiting children add ~nothing
    assert user_and_kernel([spun]) == (0.0, 0.0)  # exited: counted as nothing, no NoSuchProcess
