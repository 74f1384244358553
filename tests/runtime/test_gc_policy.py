"""runtime.gc_policy: the young threshold is set (the older ones kept), start-up objects are frozen, and
cycles made afterwards are still collected. Each case runs in a child interpreter: the collector's
settings are process-wide and must not leak into the other tests."""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = """
import gc, json, sys, weakref
from runtime.gc_policy import apply_gc_policy
young, freeze = int(sys.argv[1]), sys.argv[2] == "1"
before = gc.get_threshold()
apply_gc_policy(young, freeze=freeze)
frozen = gc.get_freeze_count()

class Node:
    pass

a, b = Node(), Node()
a.other, b.other = b, a  # a cycle made after start-up
alive = weakref.ref(a)
del a, b
gc.collect()
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": frozen, "cycle_freed": alive() is None}))
"""


def run_child(young: int, freeze: bool) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(young), "1" if freeze else "0"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_the_young_threshold_is_set_start_up_is_frozen_and_later_cycles_are_still_collected() -> None:
    result = run_child(20_000, freeze=True)
    before, after = result["before"], result["after"]
    assert isinstance(before, list) and isinstance(after, list)
    assert after == [20_000, *before[1:]]
    assert isinstance(result["frozen"], int) and result["frozen"] > 1000  # the imports' objects
    assert result["cycle_freed"] is True


def test_zero_and_no_freeze_keep_the_collector_as_it_was() -> None:
    result = run_child(0, freeze=False)
    assert result["after"] == result["before"]
    assert result["frozen"] == 0
    assert result["cycle_freed"] is True
