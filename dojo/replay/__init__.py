"""Dojo replay (issue 18, docs/replay.md): a dojo document's history — recording, rebuilding, the API."""
