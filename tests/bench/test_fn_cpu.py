"""bench/fn_cpu/sitecustomize.py: a process started with it wraps the functions named, measures nothing
until SIGUSR1, and at SIGUSR2 writes each function's calls and own CPU (a wrapped callee's time is its
own, not its caller's; so is a garbage collection's, listed per generation); a target that does not exist is
reported and skipped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

FN_CPU = Path(__file__).resolve().parents[2] / "bench" / "fn_cpu"
CHILD = """
import gc, json, sys
gc.disable()  # no collection but the one asked for below
print("ready", flush=True)
sys.stdin.readline()  # the window starts before this line comes
for _ in range(500):
    json.dumps({"a": [1, 2, 3]})
json.dumps({"a": object()}, default=lambda _: gc.collect())  # a full collection inside a wrapped call
print("done", flush=True)
sys.stdin.readline()
"""


def test_a_window_counts_the_calls_each_function_s_own_cpu_and_the_collections(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(FN_CPU),
        "POCDOJO_FN_CPU_DIR": str(tmp_path),
        "POCDOJO_FN_CPU_TARGETS": "json:dumps, json.encoder:JSONEncoder.encode, json:no_such_function",
    }
    with subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdin is not None and child.stdout is not None and child.stderr is not None
        assert child.stdout.readline() == "ready\n"
        child.send_signal(signal.SIGUSR1)
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline() == "done\n"
        child.send_signal(signal.SIGUSR2)
        # A signal's handler runs before the read it interrupted returns (PEP 475): the window started
        # before "go" was read, and its report is written before "bye" is.
        child.stdin.write("bye\n")
        child.stdin.close()
        assert child.wait(timeout=30) == 0
        errors = child.stderr.read()
    lines = (tmp_path / f"fn-cpu-{child.pid}-1.txt").read_text().splitlines()  # its first window
    assert lines[0].startswith("window ") and "main thread CPU" in lines[0]
    counted = {line.split()[0]: int(line.split()[2]) for line in lines[1:]}
    assert counted == {"json:dumps": 501, "json.encoder:JSONEncoder.encode": 501, "gc:generation-2": 1}
    assert "json:no_such_function not wrapped" in errors


def test_without_its_directory_it_wraps_nothing() -> None:
    env = {**os.environ, "PYTHONPATH": str(FN_CPU)}
    env.pop("POCDOJO_FN_CPU_DIR", None)
    probe = (
        "import json, signal; "
        "print(hasattr(json.dumps, '__wrapped__'), signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL)"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_the_summary_sums_each_window_over_the_processes(tmp_path: Path) -> None:
    sys.path.insert(0, str(FN_CPU))
    try:
        import summary
    finally:
        sys.path.remove(str(FN_CPU))
    line = "{:60s} calls {:8d}  own {:9.1f} ms  {:8.1f} us/call"
    for pid, (calls, own) in ((11, (100, 30.0)), (12, (300, 50.0))):
        report = ["window 16.0 s, main thread CPU 100 ms", line.format("crdt.room:Room._broadcast", calls, own, 0.0)]
        (tmp_path / f"fn-cpu-{pid}-1.txt").write_text("\n".join(report) + "\n")
    (tmp_path / "fn-cpu-11-2.txt").write_text("window 16.0 s, main thread CPU 40 ms\n")
    windows = summary.read_windows(tmp_path)
    assert list(windows) == [1, 2]
    first = windows[1]
    assert (first.cpu_ms, first.calls["crdt.room:Room._broadcast"], first.own_ms["crdt.room:Room._broadcast"]) == (
        200.0,
        400,
        80.0,
    )
    assert first.rest_ms == 120.0 and windows[2].rest_ms == 40.0
    table = summary.render(windows, [1000.0, 2000.0]).splitlines()  # µs per thing: ms * 1000 / count
    assert table[2].split()[-2:] == ["200.00", "20.00"]  # main thread: 200 ms / 1000, 40 ms / 2000
