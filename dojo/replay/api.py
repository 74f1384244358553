"""The replay API (docs/replay.md): a dojo's history, its files at any instant, diffs, blame, and
the frames the replay video is drawn from.

Access (`dojo.replay.readers`): the dojo's admitted participants (any role) and tenant administrators;
anyone else gets 404, as does another tenant (RLS). A tenant whose history is off gets 409 `history-off`.
`history` and `history/frames` also take a history grant (`dojo.replay.grants`) instead of a token.
Every rebuild starts from the nearest checkpoint and applies the few updates after it; the CPU work
runs in a worker thread so the event loop keeps serving the room's sockets.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from dojo.directory import DirectoryUnavailable, MemberDirectory
from dojo.model import Dojo
from dojo.openapi import COMMON, problem
from dojo.replay.engine import Checkpoint, LoggedUpdate, Replayer, bursts, diff_files, idle_stretches
from dojo.replay.readers import HistoryReader, history_reader, readable
from dojo.replay.recorder import HistoryRecorder
from dojo.replay.store import DriverChange, HistoryStore
from dojo.replay.times import format_at, instant_at_ms, ms_since, parse_instant
from dojo.services import services
from runtime.auth import BEARER_SECURITY, CurrentPrincipal
from runtime.errors import FieldError, Forbidden, ValidationFailed

router = APIRouter(tags=["dojo replay"])
log = logging.getLogger("dojo.replay")

BURST_GAP_SECONDS = 2.0
COMPLETE_WAIT_SECONDS = 10.0
IDLE_SECONDS = 10.0
PALETTE = (
    "#E6194B", "#3CB44B", "#4363D8", "#F58231", "#911EB4", "#42D4F4",
    "#F032E6", "#9A6324", "#469990", "#800000", "#808000", "#000075",
)  # fmt: skip
"""Author colours, by order of joining the dojo (stable per author within a dojo)."""

_ERRORS = {
    **COMMON,
    404: problem("No such dojo in your organization, or you are neither a participant nor an administrator."),
    409: problem("History is off for your organization (`history-off`)."),
}
_GRANT_ERRORS = {
    **_ERRORS,
    400: problem("Malformed request, or both an access token and a `History-Grant` were sent."),
    401: problem(
        "Missing, invalid or expired access token; or a history grant malformed, unknown, revoked or expired."
    ),
    403: problem("The history grant is for another dojo."),
}
Reader = Annotated[HistoryReader, Depends(history_reader)]


_AT = "RFC 3339 time (`2026-12-06T03:10:00.123Z`) or `+<ms since the start>` (send `+` as `%2B`); default: the end"


class FramesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    t_ms: list[int] = Field(
        min_length=1,
        description="Instants in ms since the dojo started, ascending (at most POCDOJO_DOJO_HISTORY_MAX_FRAMES).",
    )


class HistorySettingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(description="Record dojo history (replay) for the organization.")


# -- helpers --------------------------------------------------------------------------------------------
def _store(request: Request) -> HistoryStore:
    store: HistoryStore = services(request).history
    return store


def _end(dojo: Dojo) -> datetime:
    return dojo.ended_at if dojo.ended_at is not None else datetime.now(UTC)


def _instant(dojo: Dojo, value: str | None, field: str) -> tuple[datetime, datetime | None]:
    """(the instant reported, the bound to replay up to: None = everything recorded)."""
    end = _end(dojo)
    if value is None:
        return end, None
    at = parse_instant(value, field, dojo.started_at)
    return (end, None) if at >= end else (at, at)


async def _replayer_at(request: Request, dojo: Dojo, bound: datetime | None, *, blame: bool) -> tuple[Replayer, int]:
    return await _store(request).replayer_at(uuid.UUID(dojo.tenant_id), uuid.UUID(dojo.id), bound, blame=blame)


def _stamp(dojo: Dojo, at: datetime) -> dict[str, Any]:
    return {"at": format_at(at), "t_ms": ms_since(dojo.started_at, at)}


# -- routes ---------------------------------------------------------------------------------------------
# (the settings routes first: `/v1/dojos/{dojo_id}/history` would take `settings` for a dojo id)
@router.put(
    "/v1/dojos/settings/history",
    summary="Turn dojo history (replay) on or off for the organization (administrators)",
    responses=COMMON,
)
async def set_history(body: HistorySettingIn, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    if not principal.is_admin:
        raise Forbidden("Only an administrator changes the organization's dojo settings.")
    tenant = uuid.UUID(principal.tenant_id)
    await _store(request).set_enabled(tenant, body.enabled)
    services(request).history_recorder.set_enabled(tenant, body.enabled)
    return {"history": "on" if body.enabled else "off"}


@router.get("/v1/dojos/settings/history", summary="Whether dojo history is on for the organization", responses=COMMON)
async def get_history_setting(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    enabled = await _store(request).enabled(uuid.UUID(principal.tenant_id))
    return {"history": "on" if enabled else "off"}


@router.get(
    "/v1/dojos/{dojo_id}/history",
    summary="The dojo's timeline: edits, rotations, chat, idle",
    description="With an access token, or a history grant of this dojo (`History-Grant`).",
    responses=_GRANT_ERRORS,
    openapi_extra={"security": BEARER_SECURITY},
)
async def history(dojo_id: str, request: Request, reader: Reader) -> dict[str, Any]:
    dojo = await readable(request, reader, dojo_id)
    store = _store(request)
    tenant, ident = uuid.UUID(dojo.tenant_id), uuid.UUID(dojo.id)
    updates = await store.updates(tenant, ident)
    checkpoints = await store.checkpoints(tenant, ident)
    drivers = await store.drivers(tenant, ident)
    chat = await store.chat(tenant, ident)
    replayer = Replayer()
    edits = await asyncio.to_thread(replayer.apply_all, updates)
    end = _end(dojo)
    authors = _authors(dojo, [e.user_id for e in edits])
    names: dict[str, str] = {}
    if authors and reader.bearer:  # a grant has no token to ask the directory with: names are null
        directory: MemberDirectory = services(request).member_directory
        try:
            names = await directory.names(reader.bearer, authors)
        except DirectoryUnavailable:
            log.warning("history of dojo %s: display names unavailable", dojo.id, exc_info=True)
    files = sorted({e.file for e in edits} | set(replayer.texts()))
    return {
        "dojo_id": dojo.id,
        "started_at": format_at(dojo.started_at),
        "ended_at": format_at(dojo.ended_at) if dojo.ended_at else None,
        "duration_ms": ms_since(dojo.started_at, end),
        "history": "on",
        "files": files,
        "authors": [
            {"user_id": user, "display_name": names.get(user), "color": color} for user, color in authors.items()
        ],
        "checkpoints": [{"seq": c.seq, **_stamp(dojo, c.at)} for c in checkpoints],
        "edits": [
            {
                "from": format_at(b.start),
                "to": format_at(b.end),
                "from_ms": ms_since(dojo.started_at, b.start),
                "to_ms": ms_since(dojo.started_at, b.end),
                "user_id": b.user_id,
                "file": b.file,
                "inserted": b.inserted,
                "deleted": b.deleted,
            }
            for b in sorted(bursts(edits, BURST_GAP_SECONDS), key=lambda b: (b.start, b.end))
        ],
        "rotations": [
            {**_stamp(dojo, d.at), "driver_id": d.driver_id, "navigator_id": d.navigator_id}
            for d in drivers
            if d.driver_id is not None
        ],
        "chat": [
            {"id": m["id"], **_stamp(dojo, m["sent_at"]), "user_id": m["user_id"], "text": m["text"]} for m in chat
        ],
        "idle": [
            {"from_ms": ms_since(dojo.started_at, a), "to_ms": ms_since(dojo.started_at, b)}
            for a, b in idle_stretches([e.at for e in edits], dojo.started_at, end, IDLE_SECONDS)
        ],
    }


def _authors(dojo: Dojo, editors: Sequence[str | None]) -> dict[str, str]:
    """{user id: colour} of everyone who edited, coloured by join order (then by first edit)."""
    order = [p.user_id for p in dojo.participants]
    who = {u for u in editors if u is not None}
    ranked = sorted(who, key=lambda u: (order.index(u) if u in order else len(order), editors.index(u)))
    return {u: PALETTE[(order.index(u) if u in order else len(order) + i) % len(PALETTE)] for i, u in enumerate(ranked)}


@router.get("/v1/dojos/{dojo_id}/state", summary="Every file's text at an instant", responses=_ERRORS)
async def state(
    dojo_id: str,
    request: Request,
    principal: CurrentPrincipal,
    at: Annotated[
        str | None, Query(max_length=40, description="RFC 3339 time, or `+<ms since the start>`; default: the end")
    ] = None,
) -> dict[str, Any]:
    dojo = await readable(request, principal, dojo_id)
    instant, bound = _instant(dojo, at, "at")
    replayer, seq = await _replayer_at(request, dojo, bound, blame=False)
    files = [{"path": path, "text": text} for path, text in replayer.texts().items()]
    return {**_stamp(dojo, instant), "seq": seq, "files": files}


@router.get("/v1/dojos/{dojo_id}/diff", summary="What changed per file between two instants", responses=_ERRORS)
async def diff(
    dojo_id: str,
    request: Request,
    principal: CurrentPrincipal,
    from_: Annotated[str, Query(alias="from", max_length=40, description="RFC 3339 time or `+<ms>`")],
    to: Annotated[str | None, Query(max_length=40, description="RFC 3339 time or `+<ms>`; default: the end")] = None,
) -> dict[str, Any]:
    dojo = await readable(request, principal, dojo_id)
    start, start_bound = _instant(dojo, from_, "from")
    stop, stop_bound = _instant(dojo, to, "to")
    if stop < start:
        raise ValidationFailed([FieldError("to", "before_from", "`to` must not be before `from`.")])
    before, _ = await _replayer_at(request, dojo, start_bound, blame=False)
    after, _ = await _replayer_at(request, dojo, stop_bound, blame=False)
    return {
        "from": format_at(start),
        "to": format_at(stop),
        "files": [
            {
                "path": d.path,
                "status": d.status,
                "unified": d.unified,
                "inserted_lines": d.inserted_lines,
                "deleted_lines": d.deleted_lines,
            }
            for d in diff_files(before.texts(), after.texts())
        ],
    }


@router.get("/v1/dojos/{dojo_id}/blame", summary="Who wrote each range of every file, at an instant", responses=_ERRORS)
async def blame(
    dojo_id: str,
    request: Request,
    principal: CurrentPrincipal,
    at: Annotated[
        str | None, Query(max_length=40, description="RFC 3339 time, or `+<ms since the start>`; default: the end")
    ] = None,
) -> dict[str, Any]:
    dojo = await readable(request, principal, dojo_id)
    instant, bound = _instant(dojo, at, "at")
    replayer, _ = await _replayer_at(request, dojo, bound, blame=True)
    files = [
        {
            "path": path,
            "length": length,
            "ranges": [{"start": s, "end": e, "user_id": u} for s, e, u in ranges],
        }
        for path, (length, ranges) in replayer.blame_ranges().items()
    ]
    return {**_stamp(dojo, instant), "files": files}


@router.post(
    "/v1/dojos/{dojo_id}/history/frames",
    summary="The files cut by author at each instant (NDJSON, one line per instant)",
    description="With an access token, or a history grant of this dojo (`History-Grant`).",
    responses={
        **_GRANT_ERRORS,
        200: {"description": "One JSON line per instant", "content": {"application/x-ndjson": {}}},
    },
    openapi_extra={"security": BEARER_SECURITY},
)
async def frames(dojo_id: str, body: FramesIn, request: Request, reader: Reader) -> StreamingResponse:
    limit = services(request).settings.dojo_history_max_frames
    instants = body.t_ms
    if len(instants) > limit:
        raise ValidationFailed([FieldError("t_ms", "too_many", f"At most {limit} instants per call.")])
    if any(t < 0 for t in instants):
        raise ValidationFailed([FieldError("t_ms", "negative", "Instants are ms since the start: 0 or more.")])
    if any(b < a for a, b in itertools.pairwise(instants)):
        raise ValidationFailed([FieldError("t_ms", "unsorted", "Instants must be in ascending order.")])
    dojo = await readable(request, reader, dojo_id)
    store = _store(request)
    tenant, ident = uuid.UUID(dojo.tenant_id), uuid.UUID(dojo.id)
    first = instant_at_ms(dojo.started_at, instants[0])
    checkpoint, _, head = await store.since_checkpoint(tenant, ident, first)
    rest = await store.updates(tenant, ident, after=first)
    drivers = await store.drivers(tenant, ident)
    return StreamingResponse(
        _frame_lines(dojo, instants, checkpoint, [*head, *rest], drivers), media_type="application/x-ndjson"
    )


FRAMES_PER_CHUNK = 64


class _FramePass:
    """The one forward pass of `history/frames`: instants are computed in chunks in a worker thread
    (replaying a long session with blame costs seconds of CPU), lines streamed as each chunk is done."""

    def __init__(
        self,
        dojo: Dojo,
        checkpoint: Checkpoint | None,
        updates: Sequence[LoggedUpdate],
        drivers: Sequence[DriverChange],
    ) -> None:
        self._dojo = dojo
        self._checkpoint = checkpoint
        self._replayer: Replayer | None = None
        self._updates = updates
        self._drivers = drivers
        self._next_update = self._next_driver = 0
        self._driver: str | None = None

    def lines(self, instants: Sequence[int]) -> bytes:
        if self._replayer is None:
            self._replayer = Replayer.from_checkpoint(self._checkpoint) if self._checkpoint else Replayer()
        replayer, updates, drivers = self._replayer, self._updates, self._drivers
        out = bytearray()
        for t in instants:
            at = instant_at_ms(self._dojo.started_at, t)
            while self._next_update < len(updates) and updates[self._next_update].at <= at:
                replayer.apply(updates[self._next_update])
                self._next_update += 1
            while self._next_driver < len(drivers) and drivers[self._next_driver].at <= at:
                self._driver = drivers[self._next_driver].driver_id
                self._next_driver += 1
            line = {
                "t_ms": t,
                "driver_id": self._driver,
                "files": [
                    {"path": path, "runs": [{"text": r.text, "user_id": r.user_id} for r in runs]}
                    for path, runs in replayer.runs().items()
                ],
            }
            out += json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        return bytes(out)


async def _frame_lines(
    dojo: Dojo,
    instants: Sequence[int],
    checkpoint: Checkpoint | None,
    updates: Sequence[LoggedUpdate],
    drivers: Sequence[DriverChange],
) -> AsyncIterator[bytes]:
    frame_pass = _FramePass(dojo, checkpoint, updates, drivers)
    for start in range(0, len(instants), FRAMES_PER_CHUNK):
        yield await asyncio.to_thread(frame_pass.lines, instants[start : start + FRAMES_PER_CHUNK])


async def complete_history(request: Request, dojo: Dojo, state: bytes) -> None:
    """At the end of a dojo: once this node's writer has written what it holds (bounded wait), record
    what the sealed document ``state`` holds beyond the history (`HistoryStore.record_missing`: edits a
    node accepted and died before writing). Only when the tenant's history was on for the whole dojo:
    the final document also holds the edits made while it was off, which must never reach the history.
    A failure is logged; the end itself stands."""
    store = _store(request)
    recorder: HistoryRecorder = services(request).history_recorder
    tenant = uuid.UUID(dojo.tenant_id)
    try:
        if not await store.on_since(tenant, dojo.started_at):
            log.info("history of dojo %s: history was off during the dojo; nothing completed at its end", dojo.id)
            return
        try:
            await asyncio.wait_for(recorder.drained(), timeout=COMPLETE_WAIT_SECONDS)
        except TimeoutError:
            log.warning("history of dojo %s: this node's writer is behind; completing without waiting", dojo.id)
        added = await store.record_missing(tenant, uuid.UUID(dojo.id), state, _end(dojo))
    except Exception:
        log.exception("history of dojo %s could not be completed at its end", dojo.id)
        return
    if added:
        log.warning("history of dojo %s: %d updates no node had written were recorded at its end", dojo.id, added)
