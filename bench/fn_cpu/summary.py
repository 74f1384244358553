"""Print the ``fn-cpu-<pid>-<n>.txt`` files of a directory (see ``sitecustomize.py``) as one table: a
column per window ``n``, every process's figures summed (the nodes of a cluster run), per function its
calls and own CPU. With ``--per`` (one count per window, e.g. the deliveries the nodes sent in each
step's window, from ``collab_cluster.py``'s ``nodes sent``/s times the window) the CPU is shown in µs
per counted thing instead of ms.

.venv/bin/python bench/fn_cpu/summary.py /tmp/fn-cpu
.venv/bin/python bench/fn_cpu/summary.py /tmp/fn-cpu --per 926000,898000,837000
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

_HEAD = re.compile(r"window ([\d.]+) s, main thread CPU (\d+) ms")
_NAME = re.compile(r"fn-cpu-\d+-(\d+)\.txt")


@dataclass
class Window:
    """One window, summed over the processes that wrote it."""

    cpu_ms: float = 0.0
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    own_ms: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, text: str) -> None:
        head, *lines = text.splitlines()
        match = _HEAD.match(head)
        if match is None:
            raise ValueError(f"not an fn_cpu report: {head!r}")
        self.cpu_ms += float(match[2])
        for line in lines:
            parts = line.split()  # target, "calls", N, "own", MS, "ms", US, "us/call"
            self.calls[parts[0]] += int(parts[2])
            self.own_ms[parts[0]] += float(parts[4])

    @property
    def rest_ms(self) -> float:
        return self.cpu_ms - sum(self.own_ms.values())


def read_windows(directory: Path) -> dict[int, Window]:
    windows: dict[int, Window] = defaultdict(Window)
    for path in directory.glob("fn-cpu-*-*.txt"):
        match = _NAME.fullmatch(path.name)
        if match is not None:
            windows[int(match[1])].add(path.read_text(encoding="utf-8"))
    return dict(sorted(windows.items()))


def render(windows: dict[int, Window], per: list[float] | None) -> str:
    numbers = list(windows)
    if per is not None and len(per) != len(numbers):
        raise ValueError(f"--per has {len(per)} counts for {len(numbers)} windows")
    scale = {n: (1000.0 / per[i] if per else 1.0) for i, n in enumerate(numbers)}  # ms -> µs per thing
    unit = "µs per counted thing" if per else "ms"
    targets = sorted(
        {t for w in windows.values() for t in w.own_ms},
        key=lambda t: -max(w.own_ms.get(t, 0.0) for w in windows.values()),
    )
    lines = [f"{'window':<58}" + "".join(f"{n:>24}" for n in numbers), f"own CPU in {unit}; calls"]
    lines.append(f"{'main thread':<58}" + "".join(f"{windows[n].cpu_ms * scale[n]:>24.2f}" for n in numbers))
    for target in targets:
        cells = (
            f"{windows[n].calls.get(target, 0):>10} {windows[n].own_ms.get(target, 0.0) * scale[n]:>13.2f}"
            for n in numbers
        )
        lines.append(f"{target[:58]:<58}" + "".join(f"{c:>24}" for c in cells))
    lines.append(
        f"{'rest (no wrapped function)':<58}" + "".join(f"{windows[n].rest_ms * scale[n]:>24.2f}" for n in numbers)
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--per", type=lambda v: [float(x) for x in v.split(",")], default=None)
    args = parser.parse_args(argv)
    windows = read_windows(args.directory)
    if not windows:
        print(f"no fn-cpu-<pid>-<n>.txt in {args.directory}", file=sys.stderr)
        return 1
    print(render(windows, args.per))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
