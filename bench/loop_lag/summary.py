"""Print the event loop's lag per node from ``loop-lag-<pid>.jsonl`` files (see ``sitecustomize.py``).

.venv/bin/python bench/loop_lag/summary.py /tmp/loop-lag
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: summary.py DIR", file=sys.stderr)
        return 2
    files = sorted(Path(argv[0]).glob("loop-lag-*.jsonl"))
    if not files:
        print(f"no loop-lag-*.jsonl in {argv[0]}", file=sys.stderr)
        return 1
    print(f"{'file':<26} {'seconds':>7} {'p50 s':>7} {'p90 s':>7} {'max s':>7} {'> 1 s':>6}")
    for path in files:
        worst = sorted(json.loads(line)[1] for line in path.read_text().splitlines() if line.strip())
        if not worst:
            continue
        n = len(worst)
        over = sum(w > 1 for w in worst)
        p50, p90 = worst[n // 2], worst[int(0.9 * (n - 1))]
        print(f"{path.name:<26} {n:>7} {p50:>7.3f} {p90:>7.3f} {worst[-1]:>7.3f} {over:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
