"""The y-websocket wire protocol as plain functions over bytes (no I/O).

One message per WebSocket binary frame: ``varUint(type) • body``.

=====================  ==========================================================================
type                   body
=====================  ==========================================================================
0 sync                 ``varUint(sub-type) • varUint8Array`` — 0 step1 (a state vector),
                       1 step2 (an update), 2 update
1 awareness            ``varUint8Array(payload)``; payload = ``varUint(n)`` then n ×
                       ``varUint(clientID) • varUint(clock) • varString(JSON state)``
2 auth                 ``varUint(0) • varString(reason)``: permission denied
3 query-awareness      empty
=====================  ==========================================================================

Decisions the server relies on:

* **Strict framing.** :func:`decode_message` requires the frame to hold exactly one complete message;
  trailing bytes raise :class:`~crdt.errors.TrailingBytes`. The v3 client ignores anything after the
  first message, so a server that accepted trailing bytes could be made to relay data that other
  clients never see, or to disagree with them about what a frame meant.
* **Awareness states stay raw.** The codec returns each state as the JSON *text* it received and does
  not parse it: decoding is on the hot path and most servers only relay states. JSON validation is a
  separate step, :func:`validate_awareness_state` (the awareness table calls it before accepting a
  state, because a state that isn't JSON would make every browser's ``JSON.parse`` throw). The text
  ``"null"`` means the client left.
* Only ``ProtocolError`` subclasses escape the decoders, whatever the input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from .errors import InvalidAwarenessState, TruncatedMessage, UnknownMessageType
from .lib0 import Buffer, Decoder, Encoder, encode_var_string, encode_var_uint

__all__ = [
    "AuthPermissionDenied",
    "AuthType",
    "AwarenessEntry",
    "AwarenessMessage",
    "Message",
    "MessageType",
    "QueryAwareness",
    "SyncMessage",
    "SyncStep1",
    "SyncStep2",
    "SyncType",
    "SyncUpdate",
    "decode_message",
    "encode_awareness",
    "encode_awareness_update",
    "encode_message",
    "encode_permission_denied",
    "encode_query_awareness",
    "encode_sync_step1",
    "encode_sync_step2",
    "encode_sync_update",
    "parse_awareness_state",
    "parse_awareness_update",
    "validate_awareness_state",
]


class MessageType(IntEnum):
    """The first varUint of every frame."""

    SYNC = 0
    AWARENESS = 1
    AUTH = 2
    QUERY_AWARENESS = 3


class SyncType(IntEnum):
    """The sub-type that follows :attr:`MessageType.SYNC`."""

    STEP1 = 0
    STEP2 = 1
    UPDATE = 2


class AuthType(IntEnum):
    """The sub-type that follows :attr:`MessageType.AUTH`."""

    PERMISSION_DENIED = 0


@dataclass(frozen=True, slots=True)
class SyncStep1:
    """A state vector: "send me what I am missing"."""

    state_vector: bytes


@dataclass(frozen=True, slots=True)
class SyncStep2:
    """The answer to a step1: every change the asker is missing (the client marks itself synced)."""

    update: bytes


@dataclass(frozen=True, slots=True)
class SyncUpdate:
    """An incremental document update."""

    update: bytes


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    """One client's awareness state as carried on the wire.

    ``state`` is the raw JSON text; ``"null"`` means the client left.
    """

    client_id: int
    clock: int
    state: str

    @property
    def is_removal(self) -> bool:
        """True when this entry says the client left (its state is the JSON ``null``)."""
        return self.state == "null"


@dataclass(frozen=True, slots=True)
class AwarenessMessage:
    """A batch of awareness entries."""

    entries: tuple[AwarenessEntry, ...]


@dataclass(frozen=True, slots=True)
class AuthPermissionDenied:
    """The server refuses access; the client logs ``reason``."""

    reason: str


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    """Ask the peer to send every awareness state it knows."""


SyncMessage = SyncStep1 | SyncStep2 | SyncUpdate
Message = SyncStep1 | SyncStep2 | SyncUpdate | AwarenessMessage | AuthPermissionDenied | QueryAwareness

_SYNC_STEP1_PREFIX = b"\x00\x00"
_SYNC_STEP2_PREFIX = b"\x00\x01"
_SYNC_UPDATE_PREFIX = b"\x00\x02"
_AWARENESS_PREFIX = b"\x01"
_PERMISSION_DENIED_PREFIX = b"\x02\x00"
_QUERY_AWARENESS = b"\x03"

# Each awareness entry takes at least 3 bytes (clientID, clock, empty-string length).
_MIN_AWARENESS_ENTRY_BYTES = 3


def encode_sync_step1(state_vector: Buffer) -> bytes:
    """Encode a sync step1 frame carrying ``state_vector``."""
    return b"".join((_SYNC_STEP1_PREFIX, encode_var_uint(len(state_vector)), state_vector))


def encode_sync_step2(update: Buffer) -> bytes:
    """Encode a sync step2 frame carrying ``update``."""
    return b"".join((_SYNC_STEP2_PREFIX, encode_var_uint(len(update)), update))


def encode_sync_update(update: Buffer) -> bytes:
    """Encode a sync update frame carrying ``update`` (the hot path of every broadcast)."""
    return b"".join((_SYNC_UPDATE_PREFIX, encode_var_uint(len(update)), update))


def encode_awareness_update(entries: Iterable[AwarenessEntry]) -> bytes:
    """Encode an awareness *payload* (what y-protocols' ``encodeAwarenessUpdate`` returns)."""
    items = tuple(entries)
    enc = Encoder()
    enc.write_var_uint(len(items))
    for entry in items:
        enc.write_var_uint(entry.client_id)
        enc.write_var_uint(entry.clock)
        enc.write_var_string(entry.state)
    return enc.to_bytes()


def encode_awareness(entries: Iterable[AwarenessEntry]) -> bytes:
    """Encode an awareness frame: the message type, then the payload as a varUint8Array."""
    payload = encode_awareness_update(entries)
    return b"".join((_AWARENESS_PREFIX, encode_var_uint(len(payload)), payload))


def encode_permission_denied(reason: str) -> bytes:
    """Encode an auth permission-denied frame."""
    return _PERMISSION_DENIED_PREFIX + encode_var_string(reason)


def encode_query_awareness() -> bytes:
    """Encode a query-awareness frame (the single byte ``03``)."""
    return _QUERY_AWARENESS


def encode_message(msg: Message) -> bytes:
    """Encode any :data:`Message` into one frame."""
    match msg:
        case SyncUpdate(update):
            return encode_sync_update(update)
        case SyncStep1(state_vector):
            return encode_sync_step1(state_vector)
        case SyncStep2(update):
            return encode_sync_step2(update)
        case AwarenessMessage(entries):
            return encode_awareness(entries)
        case AuthPermissionDenied(reason):
            return encode_permission_denied(reason)
        case QueryAwareness():
            return encode_query_awareness()
    raise TypeError(f"not a y-websocket message: {msg!r}")


def _read_awareness_entries(dec: Decoder) -> tuple[AwarenessEntry, ...]:
    count = dec.read_var_uint()
    if count * _MIN_AWARENESS_ENTRY_BYTES > dec.remaining:
        raise TruncatedMessage(f"awareness update announces {count} entries, too many for its length")
    return tuple(AwarenessEntry(dec.read_var_uint(), dec.read_var_uint(), dec.read_var_string()) for _ in range(count))


def parse_awareness_update(payload: Buffer) -> tuple[AwarenessEntry, ...]:
    """Decode an awareness *payload* (the body inside an awareness frame's varUint8Array).

    The payload must be consumed exactly. States are returned as raw JSON text (not validated).
    """
    dec = Decoder(payload)
    entries = _read_awareness_entries(dec)
    dec.expect_end()
    return entries


def decode_message(frame: Buffer) -> Message:
    """Decode one frame into a :data:`Message`.

    Raises a :class:`~crdt.errors.ProtocolError` subclass for anything malformed: unknown types,
    truncation, absurd lengths, invalid UTF-8, and bytes after the message.
    """
    dec = Decoder(frame)
    msg_type = dec.read_var_uint()
    msg: Message
    if msg_type == MessageType.SYNC:
        sub_type = dec.read_var_uint()
        if sub_type == SyncType.UPDATE:
            msg = SyncUpdate(dec.read_var_uint8array())
        elif sub_type == SyncType.STEP1:
            msg = SyncStep1(dec.read_var_uint8array())
        elif sub_type == SyncType.STEP2:
            msg = SyncStep2(dec.read_var_uint8array())
        else:
            raise UnknownMessageType(f"unknown sync message type {sub_type}")
    elif msg_type == MessageType.AWARENESS:
        msg = AwarenessMessage(parse_awareness_update(dec.read_var_uint8array()))
    elif msg_type == MessageType.AUTH:
        sub_type = dec.read_var_uint()
        if sub_type != AuthType.PERMISSION_DENIED:
            raise UnknownMessageType(f"unknown auth message type {sub_type}")
        msg = AuthPermissionDenied(dec.read_var_string())
    elif msg_type == MessageType.QUERY_AWARENESS:
        msg = QueryAwareness()
    else:
        raise UnknownMessageType(f"unknown message type {msg_type}")
    dec.expect_end()
    return msg


def _reject_constant(name: str) -> object:
    raise InvalidAwarenessState(f"{name} is not JSON")


def parse_awareness_state(state: str) -> object:
    """Parse an awareness state as a browser's ``JSON.parse`` would, or raise.

    Raises :class:`~crdt.errors.InvalidAwarenessState` for text that isn't JSON, including Python's
    extensions (``NaN``, ``Infinity``) and nesting too deep for the parser. Returns ``None`` for
    ``null`` (the client left).
    """
    if state == "null":
        return None
    try:
        return json.loads(state, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidAwarenessState(f"awareness state is not JSON: {exc}") from exc


def validate_awareness_state(state: str) -> None:
    """Raise :class:`~crdt.errors.InvalidAwarenessState` unless ``state`` is JSON text."""
    parse_awareness_state(state)
