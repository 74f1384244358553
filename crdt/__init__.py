"""The document engine: a sans-IO y-websocket codec, awareness table and sync over pycrdt, and the
room engine on top of it (rooms, the room manager, extensions, persistence).

Nothing in this package does I/O or imports another package of ours; transports feed it bytes and
send the bytes it returns (through the `Channel` protocol), stores are injected. Import from here,
not from the modules:

>>> from crdt import decode_message, encode_sync_step1, SyncStep1
>>> encode_sync_step1(b"\\x00").hex()
'00000100'
>>> decode_message(bytes.fromhex("00000100"))
SyncStep1(state_vector=b'\\x00')
"""

from .awareness import AwarenessTable
from .channel import (
    Channel,
    CloseCode,
    ConnectionOrigin,
    Origin,
    Outbound,
    RemoteOrigin,
    ServerOrigin,
    StorageOrigin,
)
from .engine import engine_errors
from .errors import (
    AwarenessClockOutOfRange,
    AwarenessLimitExceeded,
    CrdtError,
    DocumentTooLarge,
    InvalidAwarenessState,
    InvalidStateVector,
    InvalidUtf8,
    LimitExceeded,
    ProtocolError,
    QuotaExceeded,
    TrailingBytes,
    TruncatedMessage,
    UnknownMessageType,
    UpdateRejected,
    VarUintOverflow,
)
from .extensions import AwarenessEvent, ChangeEvent, ProposedChange, ReadOnlyWrite, RoomExtension, order_extensions
from .fanout import Bus, BusListener, BusMessage, FanoutExtension, MessageKind
from .lib0 import (
    MAX_VAR_UINT,
    MAX_VAR_UINT_BYTES,
    Decoder,
    Encoder,
    encode_var_string,
    encode_var_uint,
    encode_var_uint8array,
)
from .manager import InvalidRoomTransition, RoomManager, RoomManagerClosed, RoomState
from .persistence import PersistenceError, PersistenceExtension
from .protocol import (
    AuthPermissionDenied,
    AuthType,
    AwarenessEntry,
    AwarenessMessage,
    Message,
    MessageType,
    QueryAwareness,
    SyncMessage,
    SyncStep1,
    SyncStep2,
    SyncType,
    SyncUpdate,
    decode_message,
    encode_awareness,
    encode_awareness_update,
    encode_message,
    encode_permission_denied,
    encode_query_awareness,
    encode_sync_step1,
    encode_sync_step2,
    encode_sync_update,
    parse_awareness_state,
    parse_awareness_update,
    validate_awareness_state,
)
from .reconcile import StoreReconciler
from .room import DEFAULT_MAX_DOCUMENT_BYTES, DeliveryGate, Room, RoomStats
from .store import DocumentStore, MemoryStore, StoreError, StoreUnavailable
from .sync import apply_update, create_sync_step1, handle_sync_message
from .updates import EMPTY_UPDATE, merge_updates

__all__ = [
    "DEFAULT_MAX_DOCUMENT_BYTES",
    "EMPTY_UPDATE",
    "MAX_VAR_UINT",
    "MAX_VAR_UINT_BYTES",
    "AuthPermissionDenied",
    "AuthType",
    "AwarenessClockOutOfRange",
    "AwarenessEntry",
    "AwarenessEvent",
    "AwarenessLimitExceeded",
    "AwarenessMessage",
    "AwarenessTable",
    "Bus",
    "BusListener",
    "BusMessage",
    "ChangeEvent",
    "Channel",
    "CloseCode",
    "ConnectionOrigin",
    "CrdtError",
    "Decoder",
    "DeliveryGate",
    "DocumentStore",
    "DocumentTooLarge",
    "Encoder",
    "FanoutExtension",
    "InvalidAwarenessState",
    "InvalidRoomTransition",
    "InvalidStateVector",
    "InvalidUtf8",
    "LimitExceeded",
    "MemoryStore",
    "Message",
    "MessageKind",
    "MessageType",
    "Origin",
    "Outbound",
    "PersistenceError",
    "PersistenceExtension",
    "ProposedChange",
    "ProtocolError",
    "QueryAwareness",
    "QuotaExceeded",
    "ReadOnlyWrite",
    "RemoteOrigin",
    "Room",
    "RoomExtension",
    "RoomManager",
    "RoomManagerClosed",
    "RoomState",
    "RoomStats",
    "ServerOrigin",
    "StorageOrigin",
    "StoreError",
    "StoreReconciler",
    "StoreUnavailable",
    "SyncMessage",
    "SyncStep1",
    "SyncStep2",
    "SyncType",
    "SyncUpdate",
    "TrailingBytes",
    "TruncatedMessage",
    "UnknownMessageType",
    "UpdateRejected",
    "VarUintOverflow",
    "apply_update",
    "create_sync_step1",
    "decode_message",
    "encode_awareness",
    "encode_awareness_update",
    "encode_message",
    "encode_permission_denied",
    "encode_query_awareness",
    "encode_sync_step1",
    "encode_sync_step2",
    "encode_sync_update",
    "encode_var_string",
    "encode_var_uint",
    "encode_var_uint8array",
    "engine_errors",
    "handle_sync_message",
    "merge_updates",
    "order_extensions",
    "parse_awareness_state",
    "parse_awareness_update",
    "validate_awareness_state",
]
