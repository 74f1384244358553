"""Collab REST routes: connection tickets and the server-side document API.

- `POST /v1/collab/tickets` → a ticket for one plain room of the caller's tenant.
- `GET /v1/collab/{room}/state` → the room's document as one binary Yjs update (v1 encoding).
- `GET /v1/collab/{room}/content?text=a&map=b` → its text and map roots as JSON (at most
  `collab_content_max_roots` names; the document is decoded once, large ones in a worker process).
- `POST /v1/collab/{room}/updates` → apply a binary Yjs update with origin "server"; it reaches every
  connected client and the store like any edit.
Every call needs an access token and goes through the same authorization hook as the websocket.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from crdt.channel import CloseCode, ServerOrigin
from crdt.errors import DocumentTooLarge, Overloaded, QuotaExceeded, RoomSealed, UpdateRejected
from dojo.access import Access, Authorizer, Connecting, Refused, check_room
from dojo.doc_reader import ContentReader, ReaderBusy, ReaderError, RootKind
from dojo.docstore import room_key
from dojo.openapi import COMMON
from dojo.tickets import TicketSigner
from runtime.auth import CurrentPrincipal, Principal
from runtime.errors import (
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)

router = APIRouter(tags=["collab"])


class StorageQuotaExceeded(PayloadTooLarge):
    """The tenant's documents already use their storage quota."""

    slug = "storage-quota-exceeded"
    title = "Storage quota exceeded"


YJS_UPDATE = "application/octet-stream"


class TicketRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    room: str = Field(min_length=1, max_length=128, examples=["design-notes"])
    mode: Literal["read-write", "read-only"] = "read-write"


class TicketOut(BaseModel):
    ticket: str
    expires_in: int
    collab_url: str
    mode: Literal["read-write", "read-only"]


def _valid_room(room: str) -> str:
    try:
        return check_room(room)
    except Refused as exc:
        raise ValidationFailed([FieldError("room", "invalid_room", exc.reason)]) from exc


async def _access(request: Request, principal: Principal, room: str, *, readonly: bool = False) -> Access:
    authorizer: Authorizer = request.app.state.authorizer
    who = Connecting(
        tenant_id=principal.tenant_id,
        user_id=principal.subject,
        roles=frozenset(principal.roles),
        room=room,
        expires_at=principal.expires_at,
        readonly_requested=readonly,
    )
    try:
        access = await authorizer.authorize(who)
    except Refused as exc:
        if exc.code == CloseCode.NOT_FOUND:
            raise NotFound(exc.reason[:1].upper() + exc.reason[1:] + ".") from exc
        raise Forbidden(exc.reason[:1].upper() + exc.reason[1:] + ".") from exc
    if access is Access.DENIED:
        raise Forbidden("You have no access to this room.")
    return access


def _ws_base(request: Request) -> str:
    base = str(request.app.state.settings.public_url).rstrip("/")
    return base.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/v1/collab"


@router.post(
    "/v1/collab/tickets",
    status_code=201,
    response_model=TicketOut,
    summary="A short-lived ticket to open a plain room of your tenant over the websocket",
    responses=COMMON,
)
async def create_ticket(body: TicketRequest, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    room = _valid_room(body.room)
    access = await _access(request, principal, room, readonly=body.mode == "read-only")
    signer: TicketSigner = request.app.state.tickets
    readonly = access is Access.READ_ONLY
    ticket = signer.issue(
        tenant_id=principal.tenant_id,
        user_id=principal.subject,
        room=room,
        purpose="collab",
        readonly=readonly,
        roles=tuple(sorted(principal.roles)),
        session_id=principal.session_id,
    )
    return {
        "ticket": ticket,
        "expires_in": signer.ttl,
        "collab_url": _ws_base(request),
        "mode": "read-only" if readonly else "read-write",
    }


@router.get(
    "/v1/collab/{room}/state",
    response_class=Response,
    responses={200: {"content": {YJS_UPDATE: {}}, "description": "The document as one Yjs update (v1)"}, **COMMON},
    summary="The room's document as a binary Yjs update",
)
async def read_state(room: str, request: Request, principal: CurrentPrincipal) -> Response:
    _valid_room(room)
    await _access(request, principal, room, readonly=True)
    state: bytes = await request.app.state.manager.read_state(room_key(principal.tenant_id, room))
    return Response(state, media_type=YJS_UPDATE)


def _requested_roots(
    text: list[str] | None, map_: list[str] | None, array: list[str] | None, limit: int
) -> list[tuple[RootKind, str]]:
    roots: list[tuple[RootKind, str]] = []
    kinds: dict[str, RootKind] = {}
    errors: list[FieldError] = []
    requested: tuple[tuple[RootKind, list[str] | None], ...] = (("text", text), ("map", map_), ("array", array))
    for kind, names in requested:
        for name in names or []:
            seen = kinds.setdefault(name, kind)
            if seen != kind:
                errors.append(FieldError(kind, "conflicting_type", f"root {name!r} is also asked for as {seen}"))
            elif (kind, name) not in roots:
                roots.append((kind, name))
    if len(roots) > limit:
        errors.append(
            FieldError("text", "too_many_roots", f"at most {limit} root names per request, {len(roots)} given")
        )
    if errors:
        raise ValidationFailed(errors)
    return roots


@router.get(
    "/v1/collab/{room}/content",
    summary="The room's text, map and array roots as JSON",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "the roots asked for, or the root names"},
        503: {"description": "too many large documents are being read on this node; retry"},
        **COMMON,
    },
)
async def read_content(
    room: str,
    request: Request,
    principal: CurrentPrincipal,
    text: Annotated[list[str] | None, Query(description="names of Y.Text roots")] = None,
    map: Annotated[list[str] | None, Query(description="names of Y.Map roots")] = None,
    array: Annotated[list[str] | None, Query(description="names of Y.Array roots")] = None,
) -> Response:
    _valid_room(room)
    roots = _requested_roots(text, map, array, request.app.state.settings.collab_content_max_roots)
    await _access(request, principal, room, readonly=True)
    state: bytes = await request.app.state.manager.read_state(room_key(principal.tenant_id, room))
    reader: ContentReader = request.app.state.content_reader
    try:
        body = await reader.read(state, roots)
    except ReaderBusy as exc:
        raise ServiceUnavailable(str(exc), headers={"Retry-After": "1"}) from exc
    except ReaderError as exc:
        raise ServiceUnavailable(str(exc)) from exc
    return Response(body, media_type="application/json")


@router.post(
    "/v1/collab/{room}/updates",
    status_code=204,
    openapi_extra={
        "requestBody": {"required": True, "content": {YJS_UPDATE: {"schema": {"type": "string", "format": "binary"}}}}
    },
    summary="Apply a binary Yjs update to the room as the server",
    responses=COMMON,
)
async def apply_update(room: str, request: Request, principal: CurrentPrincipal) -> Response:
    _valid_room(room)
    if request.headers.get("content-type", "").split(";")[0].strip() != YJS_UPDATE:
        raise UnsupportedMediaType(f"Send the Yjs update as {YJS_UPDATE}.")
    access = await _access(request, principal, room)
    if access is not Access.READ_WRITE:
        raise Forbidden("You may read this room but not change it.")
    update = await request.body()
    if not update:
        raise BadRequest("The body is empty: send a Yjs update.")
    try:
        await request.app.state.manager.apply_server_update(
            room_key(principal.tenant_id, room), update, ServerOrigin(f"http:{principal.subject}")
        )
    except UpdateRejected as exc:
        raise BadRequest(f"The update is not a valid Yjs update: {exc}") from exc
    except DocumentTooLarge as exc:
        raise PayloadTooLarge(f"The update would make the document too large: {exc}") from exc
    except QuotaExceeded as exc:
        raise StorageQuotaExceeded(f"The update was refused: {exc}.") from exc
    except Overloaded as exc:
        raise ServiceUnavailable(f"The update was refused for now, retry: {exc}.") from exc
    except RoomSealed as exc:
        raise Conflict("The document is final (its dojo has ended): it takes no more changes.") from exc
    return Response(status_code=204)
