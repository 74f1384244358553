"""Who may read a dojo's history, and with which credential (docs/replay.md).

The dojo's admitted participants (any role) and tenant administrators, with their access token; anyone
else gets 404, as does another tenant (RLS); a tenant whose history is off gets 409 `history-off`.
`GET .../history` and `POST .../history/frames` also take a history grant (`History-Grant` header,
`dojo.replay.grants`) instead of a token: the grant's user is then the reader, with the rights that user
has now — still a participant, or an administrator who granted as one and still is one (local mode: the
account's current roles and the granting sign-in, `runtime.auth.CurrentPrincipals`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated, Protocol

from fastapi import Header, Request
from fastapi.security.utils import get_authorization_scheme_param

from dojo.model import Dojo, Membership
from dojo.replay.grants import GRANT_HEADER, SECRET_MAX_LENGTH, GrantRefused
from dojo.services import services
from dojo.sessions import DojoSessions
from runtime.auth import CurrentPrincipals, TokenError, principal_from_request
from runtime.context import set_principal
from runtime.errors import BadRequest, Conflict, NotFound

__all__ = ["GrantHeader", "HistoryOff", "HistoryReader", "Reader", "history_reader", "readable"]


class HistoryOff(Conflict):
    slug = "history-off"
    title = "Dojo history is off"


class Reader(Protocol):
    """Whoever reads: an access token's principal, or a grant's user (`HistoryReader`)."""

    @property
    def tenant_id(self) -> str: ...

    @property
    def subject(self) -> str: ...

    @property
    def is_admin(self) -> bool: ...


@dataclass(frozen=True)
class HistoryReader:
    """The reader of `history` or `frames`: with `bearer` (an access token, kept to ask the member
    directory for names) or through the grant `grant_id`."""

    tenant_id: str
    subject: str
    is_admin: bool
    bearer: str | None = field(default=None, repr=False)
    grant_id: uuid.UUID | None = None


async def readable(request: Request, reader: Reader, dojo_id: str) -> Dojo:
    """The dojo if ``reader`` may read its history: 404 otherwise, 409 when history is off."""
    sessions: DojoSessions = services(request).sessions
    dojo = await sessions.get(reader.tenant_id, dojo_id)
    me = dojo.participant(reader.subject)
    if not reader.is_admin and (me is None or me.status is not Membership.ADMITTED):
        raise NotFound(f"No dojo {dojo_id} in your organization.")
    if not await services(request).history.enabled(uuid.UUID(reader.tenant_id)):
        raise HistoryOff("Dojo history is off for your organization: an administrator can turn it on.")
    return dojo


GrantHeader = Annotated[
    str | None,
    Header(
        alias=GRANT_HEADER,
        max_length=SECRET_MAX_LENGTH,
        description="A history grant (`POST /v1/dojos/{dojo_id}/history/grants`) instead of an access token.",
    ),
]


async def history_reader(request: Request, dojo_id: str, grant: GrantHeader = None) -> HistoryReader:
    """A FastAPI dependency: the reader of a route that takes an access token or a history grant (not both:
    400). A grant must be for ``dojo_id`` (403) and valid (401); the route then checks its user's rights."""
    if grant is None:
        principal = await principal_from_request(request)
        _, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        return HistoryReader(principal.tenant_id, principal.subject, principal.is_admin, bearer=token)
    if "authorization" in request.headers:
        raise BadRequest(f"Send either an access token or a {GRANT_HEADER}, not both.")
    dojo = services(request)
    found = await dojo.history_grants.resolve(grant, dojo_id)
    tenant, user = str(found.tenant_id), str(found.user_id)
    is_admin = found.as_admin
    if isinstance(dojo.verifier, CurrentPrincipals):
        session = None if found.session_id is None else str(found.session_id)
        try:
            roles = await dojo.verifier.current_roles(tenant, user, session)
        except TokenError as exc:
            raise GrantRefused(f"This history grant's sign-in is gone ({exc.detail}): ask for a new one.") from exc
        is_admin = is_admin and "admin" in roles
    set_principal(tenant, user)
    return HistoryReader(tenant, user, is_admin, grant_id=found.id)
