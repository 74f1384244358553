"""WebRTC signaling for Realtime Dojos: rooms of peers, offer/answer/ICE relay, mute/camera state,
TURN REST credentials and cross-node routing through Redis. The protocol is in docs/signaling.md.

Framework-free: a transport adapter (the dojo service's websocket endpoint) feeds `SignalHub` the
frames of a `Peer` and drains the peer's queue into its socket. Import from here:

>>> from signaling import mint_credential, verify_credential
>>> cred = mint_credential(b"secret", "p1", 60, now=1_000)
>>> cred.username, verify_credential(b"secret", cred.username, cred.credential, now=1_000)
('1060:p1', 'p1')
"""

from .backplane import Backplane, BackplaneListener, InProcessBackplane, RoomEvent
from .errors import (
    BackplaneUnavailable,
    InvalidJson,
    InvalidMessage,
    InvalidTarget,
    MessageTooLarge,
    PeerGone,
    ProtocolError,
    RateLimited,
    Refusal,
    RelayUnavailable,
    RoomFull,
    SignalingError,
    TooManyErrors,
    TurnCredentialError,
    TurnCredentialExpired,
    TurnCredentialInvalid,
    UnknownPeer,
    UnknownType,
)
from .hub import HubConfig, LimiterFactory, RateLimiter, SignalHub
from .peer import Peer, PeerInfo, Socket
from .redis_backplane import RedisBackplane
from .schema import SERVER_SCHEMAS, MessageParser, client_schemas
from .status import Close
from .turn import IceConfig, TurnCredential, mint_credential, verify_credential

__all__ = [
    "SERVER_SCHEMAS",
    "Backplane",
    "BackplaneListener",
    "BackplaneUnavailable",
    "Close",
    "HubConfig",
    "IceConfig",
    "InProcessBackplane",
    "InvalidJson",
    "InvalidMessage",
    "InvalidTarget",
    "LimiterFactory",
    "MessageParser",
    "MessageTooLarge",
    "Peer",
    "PeerGone",
    "PeerInfo",
    "ProtocolError",
    "RateLimited",
    "RateLimiter",
    "RedisBackplane",
    "Refusal",
    "RelayUnavailable",
    "RoomEvent",
    "RoomFull",
    "SignalHub",
    "SignalingError",
    "Socket",
    "TooManyErrors",
    "TurnCredential",
    "TurnCredentialError",
    "TurnCredentialExpired",
    "TurnCredentialInvalid",
    "UnknownPeer",
    "UnknownType",
    "client_schemas",
    "mint_credential",
    "verify_credential",
]
