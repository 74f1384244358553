"""CPU per function in a running node, for the benchmarks (not part of any service).

Put this directory first on ``PYTHONPATH`` and set ``POCDOJO_FN_CPU_DIR`` to a directory: every Python
process started so (the bench passes its environment to the nodes it starts) wraps the functions of
``POCDOJO_FN_CPU_TARGETS`` — ``module:Qualified.name`` entries separated by commas, our own functions
only (default: the collab engine's hot path, ``DEFAULT_TARGETS``). Nothing is measured until the
process gets ``SIGUSR1``; ``SIGUSR2`` ends the window and writes ``fn-cpu-<pid>-<n>.txt`` there (the
process's n-th window): the main thread's CPU over the window and, per function, its calls and its
*own* CPU (``time.thread_time`` around each call, minus the wrapped functions it called and the garbage
collections during it), highest first. The collections are listed too, per generation
(``gc:generation-N``: the standard ``gc.callbacks``).

    export PYTHONPATH=bench/fn_cpu POCDOJO_FN_CPU_DIR=/tmp/fn-cpu
    .venv/bin/python bench/collab_cluster.py --scenario fanout --fanout 50x10 --nodes 3 --no-baseline &
    sleep 20; kill -USR1 $(pgrep -f "pocdojo serve dojo"); sleep 10; kill -USR2 $(pgrep -f "pocdojo serve dojo")

``collab_cluster.py`` sends both signals itself, at the start and the end of every step's measurement
window, when ``POCDOJO_FN_CPU_DIR`` is set: one file per node and step, in the order of the steps.
``summary.py DIR [--per COUNTS]`` prints them as one table, a column per window.

Each wrapped call costs two clock reads (a system call each): the figures are for comparing functions
and runs, not absolute. Wrapping happens when this module loads, before any connection exists (uvloop
keeps a protocol's bound ``data_received`` for the connection's life). A target that cannot be
imported or found is reported on stderr and skipped.
"""

from __future__ import annotations

import functools
import gc
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

DEFAULT_TARGETS = (
    "runtime.resp:RespConnection.data_received",
    "runtime.resp:RespConnection.send",
    "dojo.fastpath:CollabWebSocketProtocol.data_received",
    "dojo.redis_bus:RedisBus._on_entry",
    "dojo.redis_bus:RedisBus._deliver",
    "dojo.redis_bus:RedisBus.append",
    "crdt.fanout:FanoutExtension.on_messages",
    "crdt.fanout:_Gate.submit",
    "crdt.fanout:_Gate._release",
    "crdt.room:Room._broadcast",
    "crdt.room:Room._change",
    "crdt.room:Room._changed",
    "crdt.room:Room.relay",
    "crdt.room:Room.integrate",
    "crdt.room:apply_update",
    "crdt.room:apply_updates",
    "dojo.collab_metrics:CollabMetrics.on_bus_lag",
)


class _Window:
    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir
        self.on = False
        self.calls: dict[str, list[float]] = {}  # target -> [calls, own CPU seconds]
        self.stack: list[float] = []  # CPU of wrapped callees, per open call
        self.started = (0.0, 0.0)
        self.windows = 0  # windows written so far (the file of the n-th is fn-cpu-<pid>-<n>.txt)
        self.gc_started = 0.0
        self.main_thread = threading.get_ident()  # what is measured: the thread this module loads in

    def wrap(self, target: str) -> None:
        module_name, _, qualname = target.partition(":")
        owner: Any = importlib.import_module(module_name)
        *path, name = qualname.split(".")
        for part in path:
            owner = getattr(owner, part)
        original: Callable[..., Any] = getattr(owner, name)
        window = self
        clock = time.thread_time

        @functools.wraps(original)
        def measured(*args: Any, **kwargs: Any) -> Any:
            if not window.on:
                return original(*args, **kwargs)
            stack = window.stack
            start = clock()
            stack.append(0.0)
            try:
                return original(*args, **kwargs)
            finally:
                spent = clock() - start
                callees = stack.pop()
                entry = window.calls.setdefault(target, [0, 0.0])
                entry[0] += 1
                entry[1] += spent - callees
                if stack:
                    stack[-1] += spent

        setattr(owner, name, measured)

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        """A garbage collection is counted as a function of its own (``gc:generation-N``), and not in
        the own time of the wrapped function whose allocation set it off."""
        if threading.get_ident() != self.main_thread:
            return
        if phase == "start":  # noted even outside a window: the window may open during the collection
            self.gc_started = time.thread_time()
            return
        if not self.on:
            return
        spent = time.thread_time() - self.gc_started
        entry = self.calls.setdefault(f"gc:generation-{info['generation']}", [0, 0.0])
        entry[0] += 1
        entry[1] += spent
        if self.stack:
            self.stack[-1] += spent

    def start(self, *_: object) -> None:
        self.calls.clear()
        self.started = (time.monotonic(), time.thread_time())
        self.on = True

    def stop(self, *_: object) -> None:
        self.on = False
        wall = time.monotonic() - self.started[0]
        cpu = time.thread_time() - self.started[1]
        lines = [f"window {wall:.1f} s, main thread CPU {cpu * 1000:.0f} ms"]
        for target, (calls, own) in sorted(self.calls.items(), key=lambda item: -item[1][1]):
            per_call = own * 1e6 / calls
            lines.append(f"{target:60s} calls {int(calls):8d}  own {own * 1000:9.1f} ms  {per_call:8.1f} us/call")
        self.windows += 1
        path = os.path.join(self.out_dir, f"fn-cpu-{os.getpid()}-{self.windows}.txt")
        with open(path, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")


def _install() -> None:
    out_dir = os.environ.get("POCDOJO_FN_CPU_DIR")
    if not out_dir:
        return
    window = _Window(out_dir)
    raw = os.environ.get("POCDOJO_FN_CPU_TARGETS", "")
    targets = [t.strip() for t in raw.split(",") if t.strip()] or list(DEFAULT_TARGETS)
    for target in targets:
        try:
            window.wrap(target)
        except (ImportError, AttributeError) as exc:
            print(f"fn_cpu: {target} not wrapped: {exc}", file=sys.stderr)
    gc.callbacks.append(window.on_gc)
    signal.signal(signal.SIGUSR1, window.start)
    signal.signal(signal.SIGUSR2, window.stop)


_install()
