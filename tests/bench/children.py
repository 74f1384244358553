"""A child process for the benchmark tools' tests: it does some work, says so, then waits."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

DONE = "done"


@contextmanager
def child_after(work: str) -> Iterator[subprocess.Popen[str]]:
    """A Python child that runs `work` (statements), prints `DONE` and waits on its stdin; yielded once
    it has printed. Leaving the block closes its stdin (it then exits) and waits for it."""
    script = f"import sys\n{work}\nprint({DONE!r}, flush=True)\nsys.stdin.read()\n"
    with subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline() == DONE + "\n"
        yield child
