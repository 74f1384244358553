"""The server's side of the y-sync protocol over a pycrdt ``Doc`` (no I/O).

* On connect, the server sends :func:`create_sync_step1` for its document, and the client answers
  with a step2 and its own step1.
* :func:`handle_sync_message` answers a step1 with the step2 the asker is missing, and applies a step2
  or an update. A step2 is the only thing that makes a v3 client mark itself synced, so the server
  must answer every step1 — after its document has been loaded.
* Updates the CRDT engine refuses raise :class:`~crdt.errors.UpdateRejected` (the translation is
  :func:`crdt.engine.engine_errors`). pycrdt decodes an update completely before integrating
  anything, so an update that does not *decode* leaves the document unchanged. One that decodes but
  fails to *integrate* (``RuntimeError`` in pycrdt 0.14) is refused after the blocks before the bad
  one were integrated: the document then holds that valid part, and the transaction's observers see
  exactly it, so a caller that forwards what observers report keeps every replica equal
  (``tests/crdt/test_sync.py`` checks both on fuzzed updates).
"""

from __future__ import annotations

from typing import Any

from pycrdt import Doc, merge_updates

from .engine import engine_errors
from .errors import InvalidStateVector, UpdateRejected
from .protocol import SyncMessage, SyncStep1, SyncStep2, SyncUpdate
from .updates import check_state_vector, check_update

__all__ = ["apply_update", "create_sync_step1", "handle_sync_message"]


def create_sync_step1(doc: Doc[Any]) -> SyncStep1:
    """The step1 the server sends on connect: its document's state vector.

    An empty document's step1 encodes to ``00 00 01 00``.
    """
    return SyncStep1(doc.get_state())


def apply_update(doc: Doc[Any], update: bytes, origin: object = None) -> None:
    """Apply ``update`` to ``doc`` in a transaction tagged with ``origin``.

    Raises :class:`~crdt.errors.UpdateRejected` if pycrdt refuses the update: the document is
    unchanged, or holds the part integrated before the engine failed (see the module docstring).
    An update whose dependencies are missing is not refused: pycrdt keeps it pending until they arrive.
    """
    check_update(update)  # before Yrs reserves memory for an absurd client count
    with engine_errors("the CRDT engine refused the update"), doc.transaction(origin=origin):
        doc.apply_update(update)


def apply_updates(doc: Doc[Any], updates: list[bytes], origin: object = None) -> list[UpdateRejected]:
    """Apply ``updates`` in order in one transaction tagged with ``origin`` (one commit, one event):
    changes already validated elsewhere (another node accepted them). An update pycrdt refuses is
    skipped (whatever part of it was integrated stays) and the others are applied; the refusals are
    returned, in order.

    Several updates are merged by the engine first and applied as one (decoding and integrating one
    update costs less than an engine step per update: ~2x less CPU per update in batches of 16
    keystrokes, ``bench/README_cluster.md``). If the engine refuses the merge or the merged update,
    they are applied one by one instead, so that each refusal is reported alone; whatever the merged
    update integrated before a refusal is in the document, and applying it again changes nothing (CRDT
    updates are idempotent)."""
    if len(updates) > 1 and _apply_merged(doc, updates, origin):
        return []
    refused: list[UpdateRejected] = []
    with doc.transaction(origin=origin):
        for update in updates:
            try:
                with engine_errors("the CRDT engine refused an update"):
                    doc.apply_update(update)
            except UpdateRejected as exc:
                refused.append(exc)
    return refused


def _apply_merged(doc: Doc[Any], updates: list[bytes], origin: object) -> bool:
    """Apply ``updates`` merged into one; False (document unchanged, or holding part of them) if the
    engine refused the merge or its result."""
    try:
        with engine_errors("the CRDT engine refused a merged update"):
            merged = merge_updates(*updates)
            with doc.transaction(origin=origin):
                doc.apply_update(merged)
    except UpdateRejected:
        return False
    return True


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
            with engine_errors("the CRDT engine refused the state vector", InvalidStateVector):
                return SyncStep2(doc.get_update(state_vector))
        case SyncStep2(update) | SyncUpdate(update):
            apply_update(doc, update, origin)
            return None
    raise TypeError(f"not a sync message: {msg!r}")
