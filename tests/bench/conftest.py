"""The benchmark scripts in `bench/` import each other as top-level modules (they run as scripts): their
tests import them the same way."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = str(Path(__file__).resolve().parents[2] / "bench")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)
