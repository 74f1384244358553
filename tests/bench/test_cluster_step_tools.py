"""bench/collab_cluster.py: what the nodes logged during a step (from where each log ended before); the
CPU split of `--generator-cpus`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from collab_cluster import BenchError, count_warnings, fmt_warnings, split_cpus


def entry(logger: str, message: str) -> str:
    return json.dumps({"time": "t", "level": "WARNING", "logger": logger, "message": message}) + "\n"


def test_only_lines_after_the_sizes_are_counted_by_logger_and_first_words(tmp_path: Path) -> None:
    a, b = tmp_path / "node1.log", tmp_path / "node2.log"
    a.write_text(entry("runtime.redis_link", "connection lost (TimeoutError)"))
    b.write_text("")
    sizes = [a.stat().st_size, 0]
    with a.open("a") as f:
        f.write(entry("runtime.redis_link", "connection lost (ConnectionError)"))
        f.write("Traceback (most recent call last):\n")
    b.write_text(
        entry("crdt.persistence", "room 'x': saving 3 changes failed")
        + entry("crdt.persistence", "room 't/other room': saving 9 changes failed")
        + entry("runtime.redis_link", "connection lost (TimeoutError)")
        + entry("runtime.redis_link", "connection lost (TimeoutError)")
        + entry("runtime.redis_link", "connection lost (TimeoutError)")
    )
    counts = count_warnings([a, b], sizes)
    assert counts == {
        "runtime.redis_link: connection lost (TimeoutError)": 3,
        "runtime.redis_link: connection lost (ConnectionError)": 1,
        "(not JSON)": 1,
        "crdt.persistence: room '…': saving": 2,  # one count whatever the room
    }
    assert next(iter(counts)) == "runtime.redis_link: connection lost (TimeoutError)"  # most frequent first


def test_the_step_line_shows_the_most_frequent_and_how_many_more() -> None:
    assert fmt_warnings({}) == "none"
    counts = {"a: x": 5, "b: y": 3, "c: z": 2, "d: w": 1, "e: v": 1}
    assert fmt_warnings(counts) == "a: x x5, b: y x3, c: z x2 (+2 more)"


def test_the_generator_gets_the_last_cpus_and_the_servers_the_others() -> None:
    assert split_cpus({0, 1}, 1) == ({0}, {1})
    assert split_cpus({3, 0, 2, 1}, 2) == ({0, 1}, {2, 3})
    for wrong in (0, 2):
        with pytest.raises(BenchError, match=rf"--generator-cpus {wrong}: choose 1 to 1 of the 2 CPUs \[0, 1\]"):
            split_cpus({0, 1}, wrong)
