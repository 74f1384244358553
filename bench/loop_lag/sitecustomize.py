"""The event loop's lag in a running node, for the benchmarks (not part of any service).

Put this directory first on ``PYTHONPATH`` and set ``POCDOJO_LOOP_LAG_DIR`` to a directory: every Python
process started so that opens a Redis link (`runtime.redis_link.RedisLink`, i.e. a realtime node)
starts, on the link's event loop, a probe that sleeps ``STEP`` seconds over and over and records how
late each wake-up is. Once a second it appends ``[unix second, worst lateness in s, wake-ups]`` to
``loop-lag-<pid>.jsonl`` there. A turn of the loop that takes 0.6 s shows as ~0.6 s of lateness and
one or two wake-ups in that second. ``summary.py`` prints the distribution per file.

    export PYTHONPATH=bench/loop_lag POCDOJO_LOOP_LAG_DIR=/tmp/loop-lag
    .venv/bin/python bench/collab_cluster.py --scenario rooms --no-baseline --rooms-nodes 3 ...
    .venv/bin/python bench/loop_lag/summary.py /tmp/loop-lag

The probe costs ~50 wake-ups a second per node while the loop keeps up.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import time
from types import ModuleType
from typing import Any, TextIO

STEP = 0.02
_DIR = os.environ.get("POCDOJO_LOOP_LAG_DIR")


async def _probe(out: TextIO) -> None:
    with out:
        second, worst, wakeups = int(time.time()), 0.0, 0
        while True:
            asleep = time.monotonic()
            await asyncio.sleep(STEP)
            worst = max(worst, time.monotonic() - asleep - STEP)
            wakeups += 1
            now = int(time.time())
            if now != second:
                out.write(json.dumps([second, round(worst, 4), wakeups]) + "\n")
                out.flush()
                second, worst, wakeups = now, 0.0, 0


def _open_output(out_dir: str) -> TextIO:
    """This process's output file (the probe closes it)."""
    os.makedirs(out_dir, exist_ok=True)
    return open(os.path.join(out_dir, f"loop-lag-{os.getpid()}.jsonl"), "a")


def _instrument(module: ModuleType, out_dir: str) -> None:
    link_class: Any = module.RedisLink
    enter = link_class.__aenter__
    tasks: set[asyncio.Task[None]] = set()

    async def aenter(self: Any) -> Any:
        link = await enter(self)
        if not tasks:  # one probe per process
            out = _open_output(out_dir)
            tasks.add(asyncio.get_running_loop().create_task(_probe(out)))
        return link

    link_class.__aenter__ = aenter


class _Finder(importlib.abc.MetaPathFinder):
    """Instruments `runtime.redis_link` once it is loaded (the node imports it late)."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir

    def find_spec(self, name: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != "runtime.redis_link":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        exec_module = loader.exec_module

        def exec_and_instrument(module: ModuleType) -> None:
            exec_module(module)
            _instrument(module, self.out_dir)

        loader.exec_module = exec_and_instrument
        return spec


if _DIR:
    sys.meta_path.insert(0, _Finder(_DIR))
