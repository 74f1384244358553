"""The server's side of the y-sync protocol over a pycrdt ``Doc`` (no I/O).

* On connect, the server sends :func:`create_sync_step1` for its document, and the client answers
  with a step2 and its own step1.
* :func:`handle_sync_message` answers a step1 with the step2 the asker is missing, and applies a step2
  or an update. A step2 is the only thing that makes a v3 client mark itself synced, so the server
  must answer every step1 — after its document has been loaded.
* Updates the CRDT engine refuses raise :class:`~crdt.errors.UpdateRejected`. pycrdt decodes an
  update completely before integrating anything, so a refused update leaves the document unchanged
  (``tests/crdt/test_sync.py`` checks this on fuzzed updates).
"""

from __future__ import annotations

from typing import Any

from pycrdt import Doc

from .errors import InvalidStateVector, UpdateRejected
from .protocol import SyncMessage, SyncStep1, SyncStep2, SyncUpdate
from .updates import check_state_vector, check_update

__all__ = ["apply_update", "create_sync_step1", "handle_sync_message"]


def _is_rust_panic(exc: BaseException) -> bool:
    # pyo3 turns a Rust panic into ``pyo3_runtime.PanicException``, a BaseException subclass that
    # cannot be imported by name. None was seen while fuzzing pycrdt 0.14, but one must not take the
    # server down.
    return type(exc).__name__ == "PanicException"


def create_sync_step1(doc: Doc[Any]) -> SyncStep1:
    """The step1 the server sends on connect: its document's state vector.

    An empty document's step1 encodes to ``00 00 01 00``.
    """
    return SyncStep1(doc.get_state())


def apply_update(doc: Doc[Any], update: bytes, origin: object = None) -> None:
    """Apply ``update`` to ``doc`` in a transaction tagged with ``origin``.

    Raises :class:`~crdt.errors.UpdateRejected` (document unchanged) if pycrdt refuses the update.
    An update whose dependencies are missing is not refused: pycrdt keeps it pending until they arrive.
    """
    check_update(update)  # before Yrs reserves memory for an absurd client count
    with doc.transaction(origin=origin):
        try:
            doc.apply_update(update)
        except ValueError as exc:
            raise UpdateRejected(str(exc)) from exc
        except BaseException as exc:
            if _is_rust_panic(exc):
                raise UpdateRejected(f"CRDT engine panicked: {exc}") from exc
            raise


def handle_sync_message(doc: Doc[Any], msg: SyncMessage, origin: object = None) -> SyncStep2 | None:
    """Apply one sync message to ``doc``; return the reply to send to its sender, if any.

    * :class:`~crdt.protocol.SyncStep1` → a :class:`~crdt.protocol.SyncStep2` with everything the
      sender's state vector lacks (:class:`~crdt.errors.InvalidStateVector` if it can't be decoded).
    * :class:`~crdt.protocol.SyncStep2` / :class:`~crdt.protocol.SyncUpdate` → applied with
      :func:`apply_update` under ``origin``; no reply.
    """
    match msg:
        case SyncStep1(state_vector):
            check_state_vector(state_vector)
            try:
                return SyncStep2(doc.get_update(state_vector))
            except ValueError as exc:
                raise InvalidStateVector(str(exc)) from exc
        case SyncStep2(update) | SyncUpdate(update):
            apply_update(doc, update, origin)
            return None
    raise TypeError(f"not a sync message: {msg!r}")
