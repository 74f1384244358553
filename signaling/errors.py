"""The signaling error tree. Protocol errors are answered with an `error` message and the
connection stays open; refusals close (or refuse) the connection with a close code.

SignalingError
├── ProtocolError                 answered with {"type": "error", "code": ..., "detail": ..., "path": ...}
│   ├── InvalidJson               invalid_json: not UTF-8 JSON
│   ├── MessageTooLarge           message_too_large: over `signal_max_message_bytes`
│   ├── InvalidMessage            invalid_message: violates the message's JSON schema (with a path)
│   │   └── UnknownType           unknown_type: `type` is not a client→server message type
│   ├── UnknownPeer               unknown_peer: the `to` peer is not in this room
│   ├── InvalidTarget             invalid_target: a peer addressed itself
│   └── RelayUnavailable          unavailable: the peer is on another node and Redis is unreachable
├── Refusal                       the connection is refused or closed with `close_code`
│   ├── RoomFull                  4409
│   ├── RateLimited               1013
│   ├── TooManyErrors             4400
│   └── BackplaneUnavailable      1013 (the cluster registry cannot be reached to admit a peer)
├── PeerGone                      the transport under a peer went away (raised by socket adapters)
└── TurnCredentialError           a TURN REST credential does not verify
    ├── TurnCredentialInvalid
    └── TurnCredentialExpired
"""

from __future__ import annotations

from typing import ClassVar

from .status import Close


class SignalingError(Exception):
    """Base of every error of this package."""


class ProtocolError(SignalingError):
    """A client message that cannot be acted on; the sender gets an `error` message."""

    code: ClassVar[str] = "invalid_message"

    def __init__(self, detail: str, *, path: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.path = path


class InvalidJson(ProtocolError):
    code = "invalid_json"


class MessageTooLarge(ProtocolError):
    code = "message_too_large"


class InvalidMessage(ProtocolError):
    code = "invalid_message"


class UnknownType(InvalidMessage):
    code = "unknown_type"


class UnknownPeer(ProtocolError):
    code = "unknown_peer"


class InvalidTarget(ProtocolError):
    code = "invalid_target"


class RelayUnavailable(ProtocolError):
    code = "unavailable"


class Refusal(SignalingError):
    """The connection is refused (at join) or closed (later) with `close_code`."""

    close_code: ClassVar[Close] = Close.INTERNAL_ERROR
    code: ClassVar[str] = "refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RoomFull(Refusal):
    close_code = Close.ROOM_FULL
    code = "room_full"


class RateLimited(Refusal):
    close_code = Close.TRY_AGAIN_LATER
    code = "rate_limited"


class TooManyErrors(Refusal):
    close_code = Close.BAD_CLIENT
    code = "too_many_errors"


class BackplaneUnavailable(Refusal):
    close_code = Close.TRY_AGAIN_LATER
    code = "unavailable"


class PeerGone(SignalingError):
    """The socket under a peer is gone (closed, reset); the peer is leaving."""


class TurnCredentialError(SignalingError):
    """A TURN REST credential does not verify."""


class TurnCredentialInvalid(TurnCredentialError):
    """Malformed username, or the credential is not the HMAC of the username."""


class TurnCredentialExpired(TurnCredentialError):
    """The expiry in the username has passed."""
