"""The one place where the CRDT engine's own errors become :mod:`crdt.errors`.

pycrdt (Yrs through pyo3) reports a refused input in three ways, depending on where Yrs notices:

* ``ValueError`` — the bytes could not be decoded ("Cannot decode update: ...");
* ``RuntimeError`` — the update decoded but could not be integrated ("Cannot apply update: block
  parent ... must be deleted or shared ref type"). Yrs integrates block by block, so by then the
  blocks before the bad one *are* in the document (see :func:`crdt.sync.apply_update`);
* ``pyo3_runtime.PanicException`` — a Rust panic, a ``BaseException`` that cannot be imported by name.

Every call that hands client bytes to the engine runs inside :func:`engine_errors`, which turns all
three into the given :class:`~crdt.errors.CrdtError` subclass (by default
:class:`~crdt.errors.UpdateRejected`, which transports close with 4422). Anything else (a
``KeyboardInterrupt``, a ``MemoryError``) propagates unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import CrdtError, UpdateRejected

__all__ = ["engine_errors", "is_engine_error"]


def is_engine_error(exc: BaseException) -> bool:
    """True if ``exc`` is how pycrdt refuses an input (not a bug of ours or a system condition)."""
    return isinstance(exc, ValueError | RuntimeError) or type(exc).__name__ == "PanicException"


@contextmanager
def engine_errors(what: str, error: type[CrdtError] = UpdateRejected) -> Iterator[None]:
    """Run a pycrdt call; raise ``error("<what>: <engine message>")`` if the engine refuses its input."""
    try:
        yield
    except BaseException as exc:
        if not is_engine_error(exc):
            raise
        raise error(f"{what}: {exc}") from exc
