"""Who may open a collab room, and how: credentials at the upgrade and the authorization hook.

Credentials are an `Authorization: Bearer` access token (native clients) or a short-lived
`?ticket=` bound to user and room (clients that cannot set headers). The authorization hook then
decides read-write, read-only or denied for that room; a service registers hooks per room kind
(plain rooms here; dojo rooms consult the dojo's participants and roles).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from crdt.channel import CloseCode
from dojo.room_names import RoomNameError, canonical_room
from dojo.tickets import Purpose, TicketError, TicketSigner
from runtime.auth import CurrentPrincipals, Principal, TokenError, Verifier
from runtime.errors import ServiceUnavailable


class Access(enum.Enum):
    READ_WRITE = "read-write"
    READ_ONLY = "read-only"
    DENIED = "denied"


class Refused(Exception):
    """The connection is refused: sent as permission-denied, then closed with `code`."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Connecting:
    """An authenticated user about to join a room."""

    tenant_id: str
    user_id: str
    roles: frozenset[str]
    room: str
    expires_at: int | None
    """When the credential expires (bearer tokens); tickets only open the connection."""
    readonly_requested: bool = False
    session_id: str | None = None
    """The sign-in behind the credential (``sid``), so a revocation can reach the open connection."""


class Authorizer(Protocol):
    async def authorize(self, who: Connecting) -> Access: ...


class TenantMembers:
    """Plain rooms: every member of the room's tenant may edit (a read-only ticket may not)."""

    async def authorize(self, who: Connecting) -> Access:
        check_room(who.room)
        return Access.READ_ONLY if who.readonly_requested else Access.READ_WRITE


def check_room(room: str) -> str:
    """`room` if it is a room name in its only spelling (see `dojo.room_names`), else `Refused(4400)`."""
    try:
        return canonical_room(room)
    except RoomNameError as exc:
        raise Refused(CloseCode.BAD_MESSAGE, str(exc)) from exc


def bearer_token(headers: Mapping[str, str]) -> str | None:
    header = headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refused(CloseCode.UNAUTHORIZED, "unauthorized: use Authorization: Bearer <access token>")
    return token.strip()


async def authenticate(
    *,
    room: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    verifier: Verifier,
    tickets: TicketSigner,
    purpose: Purpose,
) -> Connecting:
    """The user behind the upgrade request, or `Refused(UNAUTHORIZED)`.

    Both credentials are checked against the account's current state when the verifier does so
    (`CurrentPrincipals`, local mode): a bearer token through `verify`, a ticket by the sign-in it
    names, so a ticket of a deleted account or a revoked sign-in opens nothing even within its TTL.
    A state that cannot be read refuses with 1013 (try again later)."""
    try:
        return await _credentials(room, headers, query, verifier, tickets, purpose)
    except TokenError as exc:
        raise Refused(CloseCode.UNAUTHORIZED, f"unauthorized: {exc.detail}") from exc
    except ServiceUnavailable as exc:
        raise Refused(CloseCode.TRY_AGAIN_LATER, exc.detail) from exc


async def _credentials(
    room: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    verifier: Verifier,
    tickets: TicketSigner,
    purpose: Purpose,
) -> Connecting:
    token = bearer_token(headers)
    ticket = query.get("ticket")
    if token is not None:
        principal: Principal = await verifier.verify(token)
        return Connecting(
            tenant_id=principal.tenant_id,
            user_id=principal.subject,
            roles=frozenset(principal.roles),
            room=room,
            expires_at=principal.expires_at,
            session_id=principal.session_id,
        )
    if ticket:
        try:
            grant = tickets.verify(ticket, room=room, purpose=purpose)
        except TicketError as exc:
            raise Refused(CloseCode.UNAUTHORIZED, f"unauthorized: {exc}") from exc
        roles = frozenset(grant.roles)
        if isinstance(verifier, CurrentPrincipals) and grant.session_id is not None:
            # Tickets from our API always name the sign-in (local mode); one without it was minted by
            # a holder of the shared ticket secret (a trusted service), who vouches for the user.
            roles = await verifier.current_roles(grant.tenant_id, grant.user_id, grant.session_id)
        return Connecting(
            tenant_id=grant.tenant_id,
            user_id=grant.user_id,
            roles=roles,
            room=room,
            expires_at=None,
            readonly_requested=grant.readonly,
            session_id=grant.session_id,
        )
    raise Refused(CloseCode.UNAUTHORIZED, "unauthorized: send an access token or a ticket")


def origin_allowed(headers: Mapping[str, str], allowed: list[str]) -> bool:
    """Browsers send Origin; native clients don't. A browser origin must be on the allowlist."""
    origin = headers.get("origin")
    return origin is None or origin in allowed
