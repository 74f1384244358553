"""Tests pass on a clone with nothing beside it: nothing under tests/ reaches outside the repository."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from tests.traces import TRACES

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

# Ways a test could name a file beside the checkout: the shared folder next to the repository, a parent
# of the repository root. (The folder's name is spelt in two pieces so that this line does not name it.)
_SHARED = "sha" + "red"
_OUTSIDE = re.compile(rf"""\.\./{_SHARED}|/{_SHARED}/data|["']{_SHARED}["']\s*/|parents\[(?:[3-9]|\d\d)\]""")


def _sources() -> list[Path]:
    found = [p for p in TESTS.rglob("*") if p.suffix in {".py", ".mjs", ".js"} and "node_modules" not in p.parts]
    return sorted(found)


def test_no_test_source_reads_beside_the_checkout() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in _sources()
        if path != Path(__file__).resolve()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _OUTSIDE.search(line) and not line.lstrip().startswith(("#", "*", "//"))
    ]
    assert offenders == []


def test_the_traces_the_tests_replay_are_in_the_repository() -> None:
    assert (TRACES / "ATTRIBUTION.md").is_file()
    for name in ("friendsforever.json.gz", "sveltecomponent.json.gz"):
        trace = json.loads(gzip.decompress((TRACES / name).read_bytes()))
        assert isinstance(trace["endContent"], str)
        assert trace["txns"]
