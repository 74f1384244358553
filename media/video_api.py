"""`/v1/videos`: ask for a year-in-review video of one's POCs or a dojo's replay, follow its job, play or
download it (MP4 with HTTP Range, JPEG thumbnail, WebVTT captions), cancel or delete it.

The same rules as `/v1/reports` (`media.api`): `Idempotency-Key` (per user) answers the first request's video
for the same body and 422 for another; at most `POCDOJO_MEDIA_MAX_ACTIVE_VIDEOS_PER_USER` queued or running
videos per user (429 with Retry-After); another user's video (unless an admin) or another tenant's is 404.
The period's POCs are frozen at request time by the POC service's export of the caller's own search
(`owner=me`, `created_from`/`created_to` of the period), as a report's are. A dojo replay is checked
against the dojo service with the caller's token when asked (`media.replay_request`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import procrastinate
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import RedirectResponse

from media.api import (
    WAIT_MAX_SECONDS,
    Services,
    _bearer,
    _cursor,
    _drop_export,
    _problem,
    _time,
    _unavailable,
)
from media.dojos_client import HistoryGrant
from media.errors import MediaError, SourceUnavailable, StorageUnavailable
from media.metrics import JOBS_QUEUED
from media.queue import cancel_queued
from media.replay_job import grant_of_video
from media.replay_request import grant_of_values, replay_values
from media.reports.model import ReportFilters
from media.services import services as media_services
from media.sources import DojoHistories
from media.video import Period
from media.video_job import KIND, defer_video, export_of_video
from media.video_repository import CONTENT_TYPES, Video, VideoRepository
from media.video_schemas import PERIOD_TIMEZONE, Kind, VideoCreate, VideoPage
from media.video_schemas import Video as VideoOut
from runtime.auth import CurrentPrincipal, Principal
from runtime.errors import Conflict, FieldError, NotFound, ServiceUnavailable, TooManyRequests, ValidationFailed

log = logging.getLogger("pocdojo.media.video_api")
router = APIRouter(tags=["videos"])

RETRY_AFTER_SECONDS = 30
"""What a 429 tells the user to wait: about one video's time."""

Responses = dict[int | str, dict[str, Any]]
_COMMON: Responses = {
    400: _problem("Malformed request (e.g. the body is not valid JSON)."),
    401: _problem("Missing, invalid or expired access token (`WWW-Authenticate: Bearer`)."),
    422: _problem("Invalid fields or parameters: `errors` lists each with a code and a message."),
}
_NOT_FOUND: Responses = {
    404: _problem("No such video visible to the caller (another user's, unless an admin; another tenant's).")
}
_UNAVAILABLE: Responses = {503: _problem("A service the request needs (file store, POC catalogue) is unreachable.")}


class VideoServices:
    """What the routes use: the media service's (`media.api.Services`), the videos' rows, the dojo service."""

    def __init__(self, media: Services, videos: VideoRepository, dojos: DojoHistories) -> None:
        self.media = media
        self.videos = videos
        self.dojos = dojos


def _services(request: Request) -> VideoServices:
    return media_services(request).videos


Videos = Annotated[VideoServices, Depends(_services)]


def _period_out(video: Video) -> str | int | None:
    if video.period is None:
        return None
    return video.period if video.period == "last-12-months" else int(video.period)


def view(video: Video) -> dict[str, Any]:
    base = f"/v1/videos/{video.id}"
    done = video.status == "done"
    return {
        "id": str(video.id),
        "user_id": str(video.user_id),
        "kind": video.kind,
        "dojo_id": None if video.dojo_id is None else str(video.dojo_id),
        "speed": video.speed,
        "status": video.status,
        "stage": video.stage,
        "progress": video.progress,
        "error": video.error,
        "period": _period_out(video),
        "period_start": _time(video.period_start),
        "period_end": _time(video.period_end),
        "resolution": video.resolution,
        "locale": video.locale,
        "poc_count": video.poc_count,
        "duration_seconds": video.duration_seconds,
        "size_bytes": video.size_bytes,
        "created_at": _time(video.created_at),
        "started_at": _time(video.started_at),
        "finished_at": _time(video.finished_at),
        "download_url": f"{base}/download" if done else None,
        "thumbnail_url": f"{base}/thumbnail" if done else None,
        "captions_url": f"{base}/captions" if done else None,
    }


def resolve_period(period: str | int, now: datetime) -> Period:
    """The request's period as instants: the twelve months up to `now`, or a calendar year in São Paulo."""
    if period == "last-12-months":
        return Period.last_12_months(now)
    assert isinstance(period, int)
    return Period.calendar_year(period, PERIOD_TIMEZONE)


def _request_hash(body: VideoCreate) -> str:
    return hashlib.sha256(orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)).hexdigest()


def _replay(existing: Video, request_hash: str) -> Video:
    if existing.request_hash != request_hash:
        raise ValidationFailed(
            [FieldError("Idempotency-Key", "key_reused", "this key was used with another request body")]
        )
    return existing


def _too_many(limit: int) -> TooManyRequests:
    return TooManyRequests(
        f"You already have {limit} videos queued or running; wait for one to finish.", retry_after=RETRY_AFTER_SECONDS
    )


def _answer(response: Response, video: Video) -> dict[str, Any]:
    response.headers["Location"] = f"/v1/videos/{video.id}"
    return view(video)


@router.post(
    "/v1/videos",
    status_code=202,
    response_model=VideoOut,
    summary="Ask for a year-in-review video of one's POCs, or a dojo's replay",
    responses={
        **_COMMON,
        409: _problem(
            "Dojo replays: the tenant keeps no dojo history (`code: history-off`) or the dojo is still running "
            "(`code: dojo-running`)."
        ),
        413: _problem("The body exceeds the size limit."),
        415: _problem("The body is not JSON (`Content-Type: application/json`)."),
        429: _problem("The caller already has the most videos queued or running (`Retry-After`)."),
        **_UNAVAILABLE,
    },
)
async def create_video(
    body: VideoCreate,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    services: Videos,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)] = None,
) -> dict[str, Any]:
    """Freezes the caller's POCs of the period now (a dojo replay: checks the caller may replay the dojo) and
    queues the job; answers 202 with the video to follow."""
    media, videos = services.media, services.videos
    tenant, user = principal.tenant_id, principal.subject
    request_hash = _request_hash(body)
    limit = media.settings.media_max_active_videos_per_user
    if idempotency_key is not None:
        existing = await videos.find_idempotent(tenant, user, idempotency_key)
        if existing is not None:
            return _answer(response, _replay(existing, request_hash))
    if await videos.count_active(tenant, user) >= limit:
        raise _too_many(limit)
    if body.kind == "dojo-replay":
        assert body.dojo_id is not None and body.speed is not None
        replay = await replay_values(services.dojos, _bearer(request), body.dojo_id, body.speed)
        replay.update(resolution=body.resolution, locale=body.locale)
        grant = grant_of_values(replay)

        async def revoke_grant() -> None:
            await _revoke(services, grant)

        return await _queue(services, response, tenant, user, replay, idempotency_key, request_hash, revoke_grant)
    assert body.period is not None
    period = resolve_period(body.period, datetime.now(UTC))
    search = ReportFilters(owner="me", created_from=period.start.isoformat(), created_to=period.end.isoformat())
    bearer = _bearer(request)
    try:
        names = await media.directory.caller_names(bearer)
        export = await media.exports.create_export(bearer, search)
    except SourceUnavailable as exc:
        raise _unavailable(exc) from exc
    except ValidationFailed as exc:
        # The POC service refused the period's search (more POCs than one export holds): say it of `period`.
        raise ValidationFailed([FieldError("period", e.code, e.message) for e in exc.errors]) from exc
    values: dict[str, Any] = {
        "period": str(body.period),
        "period_start": period.start,
        "period_end": period.end,
        "resolution": body.resolution,
        "locale": body.locale,
        "header": {"tenant_name": names.tenant_name, "user_name": names.user_name},
        "export_id": export.id,
        "export_secret": export.secret,
        "export_expires_at": export.expires_at,
        "poc_count": export.count,
    }

    async def drop_export() -> None:
        await _drop_export(media, export)

    return await _queue(services, response, tenant, user, values, idempotency_key, request_hash, drop_export)


async def _queue(
    services: VideoServices,
    response: Response,
    tenant: str,
    user: str,
    values: dict[str, Any],
    idempotency_key: str | None,
    request_hash: str,
    unused: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Insert the video (`values`: its own columns) and queue its job; `unused` undoes what was prepared for
    it when no video is inserted (over the limit, or the idempotency key taken meanwhile)."""
    media, videos = services.media, services.videos
    limit = media.settings.media_max_active_videos_per_user
    values = {**values, "idempotency_key": idempotency_key, "request_hash": request_hash}
    video, existing = await videos.insert(tenant, user, values, max_active=limit)
    if video is None:
        if unused is not None:
            await unused()
        if existing is None:
            raise _too_many(limit)
        return _answer(response, _replay(existing, request_hash))
    try:
        job_id = await defer_video(media.queue, tenant, video.id)
    except procrastinate.exceptions.ConnectorException as exc:
        log.error("video not queued", extra={"video_id": str(video.id), "error": str(exc)})
        await videos.fail_unqueued(tenant, video.id, "The video could not be queued; ask again.")
        raise ServiceUnavailable("The job queue cannot be reached; try again shortly.") from exc
    await videos.set_job(tenant, video.id, job_id)
    JOBS_QUEUED.labels(KIND).inc()
    log.info("video queued", extra={"video_id": str(video.id), "job_id": job_id, "tenant_id": tenant})
    return _answer(response, video)


async def _revoke(services: VideoServices, grant: HistoryGrant) -> None:
    """Revoke a history grant no video needs any more (one that cannot be revoked now expires anyway)."""
    try:
        await services.dojos.revoke(grant)
    except MediaError as exc:
        log.warning("history grant not revoked; it will expire", extra={"grant_id": grant.id, "error": str(exc)})


def _next_cursor(video: Video) -> str:
    raw = f"{video.created_at.isoformat()}|{video.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@router.get(
    "/v1/videos", response_model=VideoPage, summary="The caller's videos (an admin: the tenant's)", responses=_COMMON
)
async def list_videos(
    principal: CurrentPrincipal,
    services: Videos,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[Kind | None, Query(description="Only the videos of this kind (default: every kind).")] = None,
) -> dict[str, Any]:
    after = _cursor(cursor)
    owner = None if principal.is_admin else principal.subject
    videos = await services.videos.page(principal.tenant_id, owner, limit=limit + 1, after=after, kind=kind)
    more = len(videos) > limit
    videos = videos[:limit]
    return {"items": [view(v) for v in videos], "next_cursor": _next_cursor(videos[-1]) if more else None}


async def _visible(services: VideoServices, principal: Principal, video_id: uuid.UUID) -> Video:
    video = await services.videos.get(principal.tenant_id, video_id)
    if video is None or (not principal.is_admin and str(video.user_id) != principal.subject):
        raise NotFound("No such video.")
    return video


@router.get(
    "/v1/videos/{video_id}",
    response_model=VideoOut,
    summary="A video: status, stage, progress, error, duration, size, times",
    responses={**_COMMON, **_NOT_FOUND},
)
async def get_video(
    video_id: uuid.UUID,
    principal: CurrentPrincipal,
    services: Videos,
    wait: Annotated[
        int,
        Query(
            ge=0,
            le=WAIT_MAX_SECONDS,
            description="Seconds to wait for the video's next change (status, stage or progress) before answering; "
            "answers at once when it is finished.",
        ),
    ] = 0,
) -> dict[str, Any]:
    if wait == 0:
        return view(await _visible(services, principal, video_id))
    async with services.media.changes.watch(video_id) as changed:
        video = await _visible(services, principal, video_id)
        if video.status not in ("queued", "running"):
            return view(video)
        try:
            async with asyncio.timeout(wait):
                await changed.wait()
        except TimeoutError:
            return view(video)
    return view(await _visible(services, principal, video_id))


async def _redirect(services: VideoServices, principal: Principal, video_id: uuid.UUID, part: str) -> RedirectResponse:
    video = await _visible(services, principal, video_id)
    if video.status != "done" or video.object_prefix is None:
        raise Conflict(f"The video is {video.status}; only a done video has files.")
    media = services.media
    try:
        url = await media.store.signed_url(
            video.keys()[part],
            filename=video.filename(part),
            content_type=CONTENT_TYPES[part],
            expires_in=media.settings.media_download_url_seconds,
        )
    except StorageUnavailable as exc:
        raise _unavailable(exc) from exc
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


def _file_responses(what: str) -> Responses:
    return {
        302: {"description": f"To the {what}'s signed URL (valid `POCDOJO_MEDIA_DOWNLOAD_URL_SECONDS`; HTTP Range)."},
        **_COMMON,
        **_NOT_FOUND,
        409: _problem("The video is not done (queued, running, failed or cancelled)."),
        **_UNAVAILABLE,
    }


@router.get(
    "/v1/videos/{video_id}/download",
    status_code=302,
    response_class=RedirectResponse,
    summary="The finished MP4 (302 to a short-lived signed URL that serves HTTP Range, so a player can seek)",
    responses=_file_responses("MP4"),
)
async def download_video(video_id: uuid.UUID, principal: CurrentPrincipal, services: Videos) -> RedirectResponse:
    return await _redirect(services, principal, video_id, "video")


@router.get(
    "/v1/videos/{video_id}/thumbnail",
    status_code=302,
    response_class=RedirectResponse,
    summary="The finished video's JPEG thumbnail (302 to a short-lived signed URL)",
    responses=_file_responses("JPEG"),
)
async def video_thumbnail(video_id: uuid.UUID, principal: CurrentPrincipal, services: Videos) -> RedirectResponse:
    return await _redirect(services, principal, video_id, "thumbnail")


@router.get(
    "/v1/videos/{video_id}/captions",
    status_code=302,
    response_class=RedirectResponse,
    summary="The finished video's WebVTT captions (302 to a short-lived signed URL, `text/vtt`)",
    responses=_file_responses("WebVTT file"),
)
async def video_captions(video_id: uuid.UUID, principal: CurrentPrincipal, services: Videos) -> RedirectResponse:
    return await _redirect(services, principal, video_id, "captions")


@router.delete(
    "/v1/videos/{video_id}",
    status_code=204,
    summary="Cancel a queued or running video; delete a finished one and its three files",
    responses={204: {"description": "Cancelled or deleted."}, **_COMMON, **_NOT_FOUND, **_UNAVAILABLE},
)
async def delete_video(video_id: uuid.UUID, principal: CurrentPrincipal, services: Videos) -> Response:
    media, videos = services.media, services.videos
    video = await _visible(services, principal, video_id)
    tenant = principal.tenant_id
    if video.status in ("queued", "running"):
        cancelled = await videos.cancel(tenant, video_id)
        if cancelled is not None:
            # A queued job never starts; a running one stops at its next progress step (ffmpeg killed).
            if cancelled.job_id is not None:
                await cancel_queued(media.queue, cancelled.job_id)
            export = export_of_video(cancelled)
            if export is not None:
                await _drop_export(media, export)
            grant = grant_of_video(cancelled)
            if grant is not None:
                await _revoke(services, grant)
            log.info("video cancelled", extra={"video_id": str(video_id), "tenant_id": tenant})
            return Response(status_code=204)
        video = await _visible(services, principal, video_id)  # it finished meanwhile: delete it
    # Every finished video's three keys: a failed run may have left some behind.
    try:
        for key in video.keys().values():
            await media.store.delete(key)
    except StorageUnavailable as exc:
        raise _unavailable(exc) from exc
    await videos.delete(tenant, video_id)
    return Response(status_code=204)
