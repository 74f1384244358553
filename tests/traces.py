"""The editing traces the tests replay, kept in the repository (tests/data/editing-traces, CC BY 4.0:
see its ATTRIBUTION.md) so a clone passes its tests with nothing beside it."""

from __future__ import annotations

from pathlib import Path

TRACES = Path(__file__).resolve().parent / "data" / "editing-traces"
