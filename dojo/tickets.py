"""Short-lived connection tickets for clients that cannot set an Authorization header.

A ticket is `base64url(json claims) "." base64url(HMAC-SHA256(secret, claims))`, bound to a tenant, a
user, a room and a purpose, valid for seconds. It is verified with the shared secret alone, so it
works on any node. It carries no long-lived credential: a leaked URL is useless after the TTL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import orjson

Purpose = Literal["collab", "signal", "dojo"]
"""`dojo` tickets open both websockets of one dojo (collab and signal)."""
MAX_TICKET_LENGTH = 2048


class TicketError(Exception):
    """The ticket is malformed, forged, expired or for another room/purpose."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Ticket:
    tenant_id: str
    user_id: str
    room: str
    purpose: Purpose
    readonly: bool
    expires_at: int
    roles: tuple[str, ...] = ()
    session_id: str | None = None
    """The sign-in (access token ``sid``) the ticket was issued to: checked again when it is used."""


class TicketSigner:
    def __init__(self, secret: bytes, ttl_seconds: int = 60) -> None:
        if len(secret) < 32:
            raise ValueError("the ticket secret must be at least 32 bytes")
        self._secret = secret
        self.ttl = ttl_seconds

    def issue(
        self,
        *,
        tenant_id: str,
        user_id: str,
        room: str,
        purpose: Purpose,
        readonly: bool = False,
        roles: tuple[str, ...] = (),
        session_id: str | None = None,
        now: float | None = None,
    ) -> str:
        issued = int(time.time() if now is None else now)
        claims = {
            "t": tenant_id,
            "u": user_id,
            "r": room,
            "p": purpose,
            "ro": readonly,
            "rl": list(roles),
            "s": session_id,
            "exp": issued + self.ttl,
            "n": secrets.token_urlsafe(8),
        }
        body = orjson.dumps(claims)
        mac = hmac.new(self._secret, body, hashlib.sha256).digest()
        return f"{_b64(body)}.{_b64(mac)}"

    def verify(self, ticket: str, *, room: str, purpose: Purpose, now: float | None = None) -> Ticket:
        if len(ticket) > MAX_TICKET_LENGTH or ticket.count(".") != 1:
            raise TicketError("malformed ticket")
        body_text, mac_text = ticket.split(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except ValueError as exc:
            raise TicketError("malformed ticket") from exc
        expected = hmac.new(self._secret, body, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise TicketError("ticket signature is invalid")
        try:
            claims = orjson.loads(body)
            parsed = Ticket(
                tenant_id=str(claims["t"]),
                user_id=str(claims["u"]),
                room=str(claims["r"]),
                purpose=claims["p"],
                readonly=bool(claims["ro"]),
                expires_at=int(claims["exp"]),
                roles=tuple(str(r) for r in claims.get("rl", [])),
                session_id=None if claims.get("s") is None else str(claims["s"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise TicketError("malformed ticket") from exc
        current = time.time() if now is None else now
        if parsed.expires_at < current:
            raise TicketError("ticket has expired")
        if parsed.room != room or (parsed.purpose != purpose and parsed.purpose != "dojo"):
            raise TicketError("ticket is for another room")
        return parsed
