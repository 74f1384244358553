"""Errors raised by the document engine.

The tree::

    CrdtError                      anything the document engine refuses
    ├── ProtocolError              malformed wire input (close the connection, don't retry the frame)
    │   ├── TruncatedMessage       the frame ends early, or a length prefix exceeds what is left
    │   ├── VarUintOverflow        a varUint above 2**53 - 1 or longer than 8 bytes
    │   ├── InvalidUtf8            a varString that is not UTF-8
    │   ├── TrailingBytes          bytes left after one complete message
    │   ├── UnknownMessageType     a message (or sync/auth sub-)type this codec does not know
    │   ├── InvalidAwarenessState  an awareness state that is not JSON (as a browser parses it)
    │   └── InvalidStateVector     a sync step1 whose state vector the CRDT engine cannot decode
    ├── UpdateRejected             a well-framed CRDT update the CRDT engine refuses to apply (every
    │                              engine error becomes one of these in crdt/engine.py)
    ├── RoomSealed                 the room's document is final (sealed): no change is accepted
    └── LimitExceeded              well-formed input that breaks a configured bound
        ├── DocumentTooLarge       a document would grow beyond its size limit
        ├── QuotaExceeded          an extension's storage quota refuses a change (e.g. per tenant)
        ├── Overloaded             an extension cannot take more changes now (e.g. its bounded queue
        │                          is full): the sender may retry later (it resyncs)
        └── AwarenessLimitExceeded a connection claims too many client IDs, or a state is too big
            └── AwarenessClockOutOfRange  an awareness clock no real client reaches

Transports translate these at their boundary (e.g. into WebSocket close codes); nothing in ``crdt``
catches them to carry on silently.
"""

from __future__ import annotations

__all__ = [
    "AwarenessClockOutOfRange",
    "AwarenessLimitExceeded",
    "CrdtError",
    "DocumentTooLarge",
    "InvalidAwarenessState",
    "InvalidStateVector",
    "InvalidUtf8",
    "LimitExceeded",
    "Overloaded",
    "ProtocolError",
    "QuotaExceeded",
    "RoomSealed",
    "TrailingBytes",
    "TruncatedMessage",
    "UnknownMessageType",
    "UpdateRejected",
    "VarUintOverflow",
]


class CrdtError(Exception):
    """Base class of every error the document engine raises on purpose."""


class ProtocolError(CrdtError):
    """The peer sent bytes that are not a valid y-websocket message."""


class TruncatedMessage(ProtocolError):
    """The input ended before the value being read was complete.

    Also raised when a length prefix announces more bytes than remain in the frame, so an absurd
    length never causes an allocation.
    """


class VarUintOverflow(ProtocolError):
    """A varUint is larger than ``2**53 - 1`` or uses more than 8 bytes."""


class InvalidUtf8(ProtocolError):
    """A varString's bytes are not valid UTF-8."""


class TrailingBytes(ProtocolError):
    """Bytes follow a complete message in the same frame (one message per frame)."""


class UnknownMessageType(ProtocolError):
    """A message type, sync sub-type or auth sub-type that this codec does not implement."""


class InvalidAwarenessState(ProtocolError):
    """An awareness state that a JavaScript ``JSON.parse`` would reject."""


class InvalidStateVector(ProtocolError):
    """A sync step1 carries a state vector that the CRDT engine cannot decode."""


class UpdateRejected(CrdtError):
    """The CRDT engine refused an update; the document was left unchanged."""


class RoomSealed(CrdtError):
    """The room is sealed (its document is final, e.g. an ended dojo): it accepts no more changes."""


class LimitExceeded(CrdtError):
    """Well-formed input that exceeds a configured bound."""


class DocumentTooLarge(LimitExceeded):
    """Applying an update would make a document larger than allowed."""


class QuotaExceeded(LimitExceeded):
    """A change would take its owner past a storage quota; the document was left unchanged."""


class Overloaded(LimitExceeded):
    """An extension cannot take more changes right now (e.g. a bounded queue of work is full); the
    document was left unchanged, and the same change may be sent again later."""


class AwarenessLimitExceeded(LimitExceeded):
    """A connection claims more awareness client IDs than allowed, or sent an oversized state."""


class AwarenessClockOutOfRange(AwarenessLimitExceeded):
    """An awareness clock beyond what a real client reaches (see :mod:`crdt.awareness`)."""
