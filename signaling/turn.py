"""TURN REST credentials (the scheme coturn checks with `use-auth-secret` / `static-auth-secret`).

    username   = "<expiry unix time>:<peer id>"
    credential = base64(HMAC-SHA1(secret, username))

The signaling server mints them with the secret it shares with the TURN server; the TURN server
recomputes the HMAC from the username the client presents and refuses it after the expiry.
`verify_credential` is that check (what coturn does), for tests and for a Python TURN front.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from .errors import TurnCredentialExpired, TurnCredentialInvalid

MAX_USERNAME_LENGTH = 256


@dataclass(frozen=True)
class TurnCredential:
    username: str
    credential: str
    expires_at: int


def _hmac(secret: bytes, username: str) -> str:
    return base64.b64encode(hmac.new(secret, username.encode(), hashlib.sha1).digest()).decode()


def mint_credential(secret: bytes, peer: str, ttl_seconds: int, *, now: float | None = None) -> TurnCredential:
    """A credential for `peer`, valid for `ttl_seconds` from `now`."""
    if ":" in peer:
        raise ValueError("a TURN peer name must not contain ':'")
    expires_at = int(time.time() if now is None else now) + ttl_seconds
    username = f"{expires_at}:{peer}"
    return TurnCredential(username=username, credential=_hmac(secret, username), expires_at=expires_at)


def verify_credential(secret: bytes, username: str, credential: str, *, now: float | None = None) -> str:
    """The TURN server's check: returns the peer named in `username`, or raises
    `TurnCredentialInvalid` (malformed or forged) / `TurnCredentialExpired`."""
    if len(username) > MAX_USERNAME_LENGTH:
        raise TurnCredentialInvalid("username too long")
    expiry_text, sep, peer = username.partition(":")
    if not sep or not expiry_text.isdigit() or not peer:
        raise TurnCredentialInvalid("username is not '<expiry>:<peer>'")
    if not hmac.compare_digest(_hmac(secret, username).encode(), credential.encode()):
        raise TurnCredentialInvalid("credential does not match the username")
    if int(expiry_text) <= (time.time() if now is None else now):
        raise TurnCredentialExpired(f"credential expired at {expiry_text}")
    return peer


@dataclass(frozen=True)
class IceConfig:
    """What clients get as `ice_servers`: STUN URLs as they are, TURN URLs with fresh credentials."""

    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: bytes | None = None
    turn_ttl_seconds: int = 3600

    def __post_init__(self) -> None:
        if self.turn_urls and self.turn_secret is None:
            raise ValueError("TURN URLs are configured without POCDOJO_TURN_SECRET: clients could not authenticate")

    def servers_for(self, peer: str, *, now: float | None = None) -> tuple[list[dict[str, Any]], int | None]:
        """The RTCIceServer list for `peer` and when its TURN credential expires (None: no TURN)."""
        servers: list[dict[str, Any]] = []
        if self.stun_urls:
            servers.append({"urls": list(self.stun_urls)})
        if self.turn_urls and self.turn_secret is not None:
            minted = mint_credential(self.turn_secret, peer, self.turn_ttl_seconds, now=now)
            servers.append({"urls": list(self.turn_urls), "username": minted.username, "credential": minted.credential})
            return servers, minted.expires_at
        return servers, None
