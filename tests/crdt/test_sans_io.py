"""``crdt`` stays sans-IO: it imports no I/O library and nothing else of ours."""

from __future__ import annotations

import ast
from pathlib import Path

import crdt

CRDT_DIR = Path(crdt.__file__).parent
# The room engine adds asyncio (tasks, timers), logging and a few pure-stdlib helpers; still no I/O library.
ALLOWED = {
    "__future__",
    "asyncio",
    "collections",
    "contextlib",
    "dataclasses",
    "enum",
    "functools",  # crdt.fanout: the gate's release callback is a partial (no closure call per change)
    "json",
    "logging",
    "re",  # crdt.updates reads an update's head with one precompiled pattern
    "time",
    "types",
    "typing",
    "pycrdt",
}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_crdt_imports_only_the_standard_pieces_it_needs_and_pycrdt() -> None:
    modules = sorted(CRDT_DIR.glob("*.py"))
    assert modules
    for module in modules:
        unexpected = imported_roots(module) - ALLOWED
        assert not unexpected, f"{module.name} imports {unexpected}"


def test_public_api_is_explicit() -> None:
    assert set(crdt.__all__) <= set(dir(crdt))
    assert len(crdt.__all__) == len(set(crdt.__all__))
