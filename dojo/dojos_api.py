"""Dojo HTTP routes (API.md §Realtime dojos): sessions, tickets, moderation, randori and chat.

Every change goes through `DojoSessions` (one transaction, permission checked on the locked row)
and is then handed to `DojoLive`, which applies it to this node's connections at once and tells the
other nodes. The dojo's shared code is the collab document named by the dojo id (README §Dojos).
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pycrdt import Doc, Map, Text
from pydantic import BaseModel, ConfigDict, Field

from dojo.docstore import room_key
from dojo.live import DojoLive
from dojo.metrics import CHAT_MESSAGES, DOJOS_CREATED
from dojo.model import Dojo, Role, Status
from dojo.openapi import COMMON, problem
from dojo.replay.api import complete_history
from dojo.services import services
from dojo.sessions import DojoSessions
from runtime.auth import CurrentPrincipal
from runtime.body_checks import checks_body
from runtime.errors import FieldError, ServiceError, ValidationFailed
from runtime.languages import check_language
from runtime.text import Name, StorableText

router = APIRouter(tags=["dojos"])
log = logging.getLogger("dojo.api")
FILES_ROOT = "files"
"""The dojo document's layout: a Y.Map named `files`, path → Y.Text holding that file's content."""


_ERRORS = COMMON


# -- bodies ---------------------------------------------------------------------------------------
MESSAGE_ID_MAX = 2**63 - 1
"""Chat message ids are PostgreSQL bigints."""


def _message_id(value: str | None, field: str) -> int | None:
    """A message id from a query parameter: ASCII digits within bigint range, else 422 naming `field`."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and 0 < int(value) <= MESSAGE_ID_MAX):
        raise ValidationFailed([FieldError(field, "invalid_message_id", "must be a message id this API gave")])
    return int(value)


class DojoSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    locked: bool = Field(default=False, description="No new participants may join.")
    lobby: bool = Field(default=False, description="New participants wait until the host admits them.")
    randori_seconds: int | None = Field(
        default=None,
        description="Randori rotation interval in seconds (null: randori off). Only the driver's edits apply.",
        examples=[300],
    )


class DojoCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Name = Field(min_length=1, max_length=200, examples=["Kata: bowling score"])
    poc_id: uuid.UUID | None = Field(default=None, description="The POC this dojo works on, if any.")
    language: str | None = Field(
        default=None,
        description="A programming language as GitHub names it, matched as a POC's is (case-insensitive, aliases "
        "such as `golang` accepted); the canonical name is stored. An unknown name is refused with the closest.",
        examples=["Python"],
    )
    settings: DojoSettingsIn | None = None


class SettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    locked: bool | None = None
    lobby: bool | None = None
    randori_seconds: int | None = Field(default=None, description="Seconds per turn; null turns randori off.")


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["driver", "navigator", "observer"]


class ChatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: StorableText = Field(min_length=1, description="The message (length limit: `POCDOJO_DOJO_CHAT_MAX_CHARS`).")


class HostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: uuid.UUID = Field(description="The new host: an admitted participant (an admin may name themselves).")


class TicketOut(BaseModel):
    ticket: str = Field(description="Opens both websockets of this dojo (`?ticket=`); valid `expires_in` seconds.")
    expires_in: int
    room: str = Field(description="The room name for both websockets: the dojo id.")
    collab_url: str = Field(description="y-websocket server URL: `new WebsocketProvider(collab_url, room, doc)`.")
    signal_url: str = Field(description="Signaling websocket: `{signal_url}/{room}?ticket=...`.")
    role: str
    can_edit: bool


# -- helpers --------------------------------------------------------------------------------------
def _sessions(request: Request) -> DojoSessions:
    sessions = services(request).sessions
    return sessions


def _live(request: Request) -> DojoLive:
    live = services(request).live
    return live


def _check_randori(request: Request, seconds: int | None, field: str) -> None:
    if seconds is None:
        return
    settings = services(request).settings
    low, high = settings.dojo_randori_min_seconds, settings.dojo_randori_max_seconds
    if not low <= seconds <= high:
        raise ValidationFailed(
            [FieldError(field, "out_of_range", f"The randori interval must be {low:g} to {high:g} seconds.")]
        )


def _ws_base(request: Request) -> str:
    base = str(services(request).settings.public_url).rstrip("/")
    return base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)


def _encode_cursor(dojo: Dojo) -> str:
    return base64.urlsafe_b64encode(f"{dojo.started_at.isoformat()}|{dojo.id}".encode()).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        when, _, ident = raw.partition("|")
        return datetime.fromisoformat(when), uuid.UUID(ident)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed([FieldError("cursor", "invalid_cursor", "Not a cursor this API gave.")]) from exc


async def sealed_state(request: Request, dojo: Dojo) -> bytes:
    """The dojo's final document: sealed on every node (no edit is accepted from now on) and read with
    every edit any node accepted before (`RoomManager.seal`)."""
    manager = services(request).manager
    return await manager.seal(room_key(dojo.tenant_id, dojo.id))


def files_of(state: bytes) -> dict[str, str]:
    """Every file's text in a dojo document."""
    doc: Doc[Any] = Doc()
    doc.apply_update(state)
    files = doc.get(FILES_ROOT, type=Map)
    return {path: str(value) for path, value in sorted(files.items()) if isinstance(value, Text)}


# -- sessions -------------------------------------------------------------------------------------
def _check_language(body: Mapping[str, Any], refused: frozenset[str]) -> tuple[str | None, list[FieldError]]:
    """A dojo's optional language, normalized with the POCs' list (`runtime.languages`)."""
    value = body.get("language")
    if "language" in refused or not isinstance(value, str):
        return None, []
    return check_language(value)


@router.post("/v1/dojos", status_code=201, summary="Start a dojo (you host it, and drive first)", responses=_ERRORS)
@checks_body(lambda body, refused: _check_language(body, refused)[1])
async def create_dojo(body: DojoCreate, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    options = body.settings or DojoSettingsIn()
    language, errors = _check_language(body.model_dump(), frozenset())
    if errors:
        raise ValidationFailed(errors)
    _check_randori(request, options.randori_seconds, "settings.randori_seconds")
    dojo = await _sessions(request).create(
        principal.tenant_id,
        principal.subject,
        title=body.title,
        poc_id=str(body.poc_id) if body.poc_id else None,
        language=language,
        locked=options.locked,
        lobby=options.lobby,
        randori_seconds=options.randori_seconds,
    )
    DOJOS_CREATED.inc()
    return dojo.to_json()


@router.get("/v1/dojos", summary="Your organization's dojos, newest first", responses=_ERRORS)
async def list_dojos(
    request: Request,
    principal: CurrentPrincipal,
    status: Annotated[Literal["active", "ended"] | None, Query(description="Only active or ended dojos.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    before = _decode_cursor(cursor) if cursor else None
    dojos = await _sessions(request).list(
        principal.tenant_id, status=Status(status) if status else None, limit=limit, before=before
    )
    return {
        "items": [d.to_json(include_participants=False) for d in dojos],
        "next_cursor": _encode_cursor(dojos[-1]) if len(dojos) == limit else None,
    }


@router.get("/v1/dojos/{dojo_id}", summary="One dojo (with its snapshot once ended)", responses=_ERRORS)
async def get_dojo(dojo_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    dojo = await _sessions(request).get(principal.tenant_id, dojo_id)
    return dojo.to_json(include_snapshot=True)


@router.post(
    "/v1/dojos/{dojo_id}/end",
    summary="End the dojo (host or tenant admin): sockets close 4404, every file's text is snapshotted",
    responses=_ERRORS,
)
async def end_dojo(dojo_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    ended = await _sessions(request).end(
        principal.tenant_id, dojo_id, principal.subject, tenant_admin=principal.is_admin
    )
    await _live(request).changed(ended, "ended")
    state = await sealed_state(request, ended)
    final = await _sessions(request).save_snapshot(principal.tenant_id, dojo_id, files_of(state))
    await complete_history(request, ended, state)
    return final.to_json(include_snapshot=True)


@router.post(
    "/v1/dojos/{dojo_id}/tickets",
    status_code=201,
    response_model=TicketOut,
    summary="Join the dojo and get a short-lived ticket for its collab and signaling websockets",
    responses={
        **_ERRORS,
        403: problem("Kicked, locked, full, or waiting in the lobby (`dojo-lobby`: ask again once admitted)."),
    },
)
async def dojo_ticket(dojo_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    dojo = await _sessions(request).join(principal.tenant_id, dojo_id, principal.subject)
    await _live(request).changed(dojo, "joined")
    signer = services(request).tickets
    ticket = signer.issue(
        tenant_id=principal.tenant_id,
        user_id=principal.subject,
        room=dojo.id,
        purpose="dojo",
        roles=tuple(sorted(principal.roles)),
        session_id=principal.session_id,
    )
    me = dojo.participant(principal.subject)
    assert me is not None
    base = _ws_base(request)
    return {
        "ticket": ticket,
        "expires_in": signer.ttl,
        "room": dojo.id,
        "collab_url": f"{base}/v1/collab",
        "signal_url": f"{base}/v1/signal",
        "role": me.role.value,
        "can_edit": dojo.can_edit(principal.subject),
    }


# -- moderation -----------------------------------------------------------------------------------
@router.patch("/v1/dojos/{dojo_id}/settings", summary="Lock, lobby, randori (host)", responses=_ERRORS)
async def configure(dojo_id: str, body: SettingsPatch, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for flag in ("locked", "lobby"):
        if flag in changes and changes[flag] is None:
            raise ValidationFailed([FieldError(flag, "null", f"`{flag}` is true or false.")])
    if not changes:
        raise ValidationFailed([FieldError("body", "empty", "Send at least one of locked, lobby, randori_seconds.")])
    _check_randori(request, changes.get("randori_seconds"), "randori_seconds")
    dojo = await _sessions(request).configure(principal.tenant_id, dojo_id, principal.subject, changes)
    await _live(request).changed(dojo, "settings")
    return dojo.to_json()


@router.post(
    "/v1/dojos/{dojo_id}/host",
    summary="Hand the host role over (host, or a tenant admin when the host is gone); applies at once",
    responses=_ERRORS,
)
async def hand_over(dojo_id: str, body: HostIn, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    dojo = await _sessions(request).hand_over(
        principal.tenant_id, dojo_id, principal.subject, str(body.user_id), tenant_admin=principal.is_admin
    )
    await _live(request).changed(dojo, "host")
    return dojo.to_json()


@router.get("/v1/dojos/{dojo_id}/participants", summary="Participants and the lobby", responses=_ERRORS)
async def participants(dojo_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    dojo = await _sessions(request).get(principal.tenant_id, dojo_id)
    online = await _live(request).online(principal.tenant_id, dojo.id)
    items = [{**p, "online": p["user_id"] in online} for p in dojo.to_json()["participants"]]
    return {"items": items, "next_cursor": None}


async def _moderate(
    request: Request, principal: Any, dojo_id: str, user_id: str, action: str, role: Role | None = None
) -> dict[str, Any]:
    try:
        target = str(uuid.UUID(user_id))
    except ValueError as exc:
        raise ValidationFailed([FieldError("user_id", "invalid", "A user id is a UUID.")]) from exc
    dojo = await _sessions(request).moderate(
        principal.tenant_id, dojo_id, principal.subject, target, role=role, action=action
    )
    await _live(request).changed(dojo, action)
    return dojo.to_json()


@router.put(
    "/v1/dojos/{dojo_id}/participants/{user_id}/role",
    summary="Promote or demote a participant (host); takes effect on open connections at once",
    responses=_ERRORS,
)
async def set_role(
    dojo_id: str, user_id: str, body: RoleIn, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    return await _moderate(request, principal, dojo_id, user_id, "role", Role(body.role))


@router.post("/v1/dojos/{dojo_id}/participants/{user_id}/admit", summary="Admit (host)", responses=_ERRORS)
async def admit(dojo_id: str, user_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    return await _moderate(request, principal, dojo_id, user_id, "admit")


@router.post(
    "/v1/dojos/{dojo_id}/participants/{user_id}/kick",
    summary="Remove a participant for good (host): their sockets close 4403, their tickets stop working",
    responses=_ERRORS,
)
async def kick(dojo_id: str, user_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    return await _moderate(request, principal, dojo_id, user_id, "kick")


# -- chat -------------------------------------------------------------------------------------------
@router.post(
    "/v1/dojos/{dojo_id}/messages",
    status_code=201,
    summary="Send a chat message: stored, then delivered live on every node's signaling sockets",
    responses={**_ERRORS, 429: problem("Chat rate limit; `Retry-After` says when to retry.")},
)
async def send_message(dojo_id: str, body: ChatIn, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    chat = services(request).chat
    text = body.text
    if not text.strip():
        raise ValidationFailed([FieldError("text", "blank", "The message is empty.")])
    if len(text) > chat.max_chars:
        raise ValidationFailed(
            [FieldError("text", "too_long", f"A message has at most {chat.max_chars} characters ({len(text)} sent).")]
        )
    try:
        message = await chat.post(principal.tenant_id, dojo_id, principal.subject, text)
    except ServiceError as exc:
        CHAT_MESSAGES.labels(f"refused_{exc.status}").inc()
        raise
    CHAT_MESSAGES.labels("stored").inc()
    await _live(request).chat(principal.tenant_id, message["dojo_id"], message)
    return message


@router.get("/v1/dojos/{dojo_id}/messages", summary="Chat history, newest first", responses=_ERRORS)
async def messages(
    dojo_id: str,
    request: Request,
    principal: CurrentPrincipal,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40, description="`next_cursor` of the previous page")] = None,
    after: Annotated[
        str | None, Query(max_length=40, description="Only messages after this message id, oldest first")
    ] = None,
) -> dict[str, Any]:
    chat = services(request).chat
    before = _message_id(cursor, "cursor")
    since = _message_id(after, "after")
    items = await chat.history(principal.tenant_id, dojo_id, principal.subject, limit=limit, before=before, after=since)
    next_cursor = items[-1]["id"] if since is None and len(items) == limit else None
    return {"items": items, "next_cursor": next_cursor}
