"""Yjs cores side by side: the Kotlin SDK's core, yjs on Node and pycrdt on the same editing trace.

    .venv/bin/python bench/yjs_cores.py [--trace ../shared/data/editing-traces/automerge-paper.json.gz]
                                        [--runs 5] [--jvm-heap 256m] [--no-build]

Each core runs in processes of its own, two per core:

* **local** — a fresh document (client id 1) replays every patch of the trace as a local edit, delete
  then insert by position in ``Y.Text`` ``"text"``, one transaction per patch, with an update listener
  that keeps each transaction's update (as an editor bound to a provider would); the updates of the first
  run are written to a file;
* **remote** — a fresh document (client id 2) applies those updates one by one (what a peer does).

Each process does ``--runs`` runs, each on a fresh document, and the table shows the **best run** (the
JVM and V8 compile the hot code during the first runs; pycrdt gets the same treatment). Every run must
end with the trace's ``endContent``, or the script fails. Memory: the peak heap is the largest used heap
seen (sampled every 10,000 edits: V8's ``used_heap_size``, the JVM's total minus free, garbage included),
"doc heap" what the finished document keeps after a full GC, and the peak RSS the process's high-water
mark (everything: runtime, trace, updates). pycrdt keeps its document in Rust, outside the Python heap:
only its RSS is measured. The JVM runs with ``-Xmx`` = ``--jvm-heap`` (256 MB: a phone app's usual heap
limit). The last column says whether a core's updates are byte for byte yjs's (the three should be).

The runners are ``bench/yjs_core_node.mjs`` (yjs from ``tests/js/node_modules``), ``bench/yjs_core_pycrdt.py``
(the repository's ``.venv``) and ``mobile/bench`` (``dev.pocdojo.bench.YjsCoreBenchKt``, built here with
Maven unless ``--no-build``). They take ``local|remote <trace> <runs> <updates-file>`` and print one JSON
line each.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MOBILE = REPO / "mobile"
DEFAULT_TRACE = REPO.parent / "shared" / "data" / "editing-traces" / "automerge-paper.json.gz"
MB = 1024 * 1024


@dataclass(frozen=True)
class Result:
    impl: str
    mode: str
    raw: dict[str, Any]

    @property
    def best(self) -> float:
        return float(min(self.raw["seconds"]))

    @property
    def rate(self) -> float:
        return float(self.raw["edits"]) / self.best


def check_trace(path: Path) -> int:
    trace = json.loads(gzip.decompress(path.read_bytes()))
    if trace.get("startContent"):
        raise SystemExit(f"{path}: a startContent is not supported (the runners start from an empty text)")
    texts = [p[2] for t in trace["txns"] for p in t["patches"]] + [trace["endContent"]]
    if any(ord(c) > 0xFFFF for s in texts for c in s):
        # yjs and the Kotlin core count UTF-16 units, pycrdt code points: positions would disagree.
        raise SystemExit(f"{path}: characters outside the BMP; this benchmark replays BMP-only traces")
    return sum(len(t["patches"]) for t in trace["txns"])


def build_kotlin() -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SystemExit("mvn is missing: install Maven (apt-get install maven)")
    cmd = ["nice", "-n", "10", mvn, "-B", "-ntp", "-q", "-pl", "bench", "-am", "package", "-DskipTests"]
    print("building mobile/bench:", " ".join(cmd[3:]), flush=True)
    subprocess.run(cmd, cwd=MOBILE, check=True)


def commands(jvm_heap: str) -> dict[str, list[str]]:
    node = shutil.which("node")
    python = REPO / ".venv" / "bin" / "python"
    missing = [
        what
        for what, ok in [
            ("node (make install-node)", node is not None),
            (".venv (make install)", python.exists()),
            ("tests/js/node_modules/yjs (make install-node)", (REPO / "tests/js/node_modules/yjs").is_dir()),
        ]
        if not ok
    ]
    if missing:
        raise SystemExit("missing: " + ", ".join(missing))
    classpath_file = MOBILE / "bench" / "target" / "classpath.txt"
    if not classpath_file.exists():
        raise SystemExit(f"{classpath_file} is missing: run without --no-build")
    classpath = f"{MOBILE / 'bench' / 'target' / 'classes'}:{classpath_file.read_text().strip()}"
    return {
        "yjs": [str(node), "--expose-gc", str(REPO / "bench" / "yjs_core_node.mjs")],
        "kotlin": ["java", f"-Xmx{jvm_heap}", "-cp", classpath, "dev.pocdojo.bench.YjsCoreBenchKt"],
        "pycrdt": [str(python), str(REPO / "bench" / "yjs_core_pycrdt.py")],
    }


def run(cmd: list[str], impl: str, mode: str, trace: Path, runs: int, updates: Path) -> Result:
    print(f"{impl} {mode} ...", flush=True)
    out = subprocess.run([*cmd, mode, str(trace), str(runs), str(updates)], check=True, capture_output=True, text=True)
    raw = json.loads(out.stdout.strip().splitlines()[-1])
    return Result(impl, mode, raw)


def mb(value: int | None) -> str:
    return "—" if value is None else f"{value / MB:.1f}"


def table(results: list[Result]) -> str:
    yjs = {r.mode: r for r in results if r.impl == "yjs"}
    header = (
        f"{'core':<7} {'mode':<7} {'best s':>7} {'edits/s':>10} {'× yjs':>6} {'peak heap MB':>13} "
        f"{'doc heap MB':>12} {'peak RSS MB':>12} {'text ok':>8} {'updates = yjs':>14}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        ref = yjs[r.mode]
        lines.append(
            f"{r.impl:<7} {r.mode:<7} {r.best:>7.3f} {r.rate:>10,.0f} {r.rate / ref.rate:>6.2f} "
            f"{mb(r.raw['peak_heap']):>13} {mb(r.raw['doc_heap']):>12} {mb(r.raw['peak_rss']):>12} "
            f"{'yes' if r.raw['text_ok'] else 'NO':>8} "
            f"{'yes' if r.raw['updates_sha256'] == ref.raw['updates_sha256'] else 'no':>14}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", type=Path, default=DEFAULT_TRACE, help="an editing trace (.json.gz)")
    parser.add_argument("--runs", type=int, default=5, help="runs per process, the best is shown (default 5)")
    parser.add_argument("--jvm-heap", default="256m", help="the JVM's -Xmx (default 256m)")
    parser.add_argument("--no-build", action="store_true", help="use mobile/bench/target as it is")
    args = parser.parse_args()
    trace = args.trace.resolve()
    edits = check_trace(trace)
    if not args.no_build:
        build_kotlin()
    cmds = commands(args.jvm_heap)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="yjs-cores-") as tmp:
        for impl, cmd in cmds.items():
            updates = Path(tmp) / f"{impl}.updates"
            for mode in ("local", "remote"):
                results.append(run(cmd, impl, mode, trace, args.runs, updates))
    print()
    print(f"{trace.name}: {edits:,} edits, one transaction each; best of {args.runs} runs per process")
    print(table(results))
    for r in results:
        print(f"  {r.impl} {r.mode}: {r.raw['version']}; runs (s): {', '.join(f'{s:.3f}' for s in r.raw['seconds'])}")
    if not all(r.raw["text_ok"] for r in results):
        sys.exit("a core did not end with the trace's endContent")


if __name__ == "__main__":
    main()
