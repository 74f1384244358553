"""`/v1/reports`: ask for a PDF/CSV report of a search, follow its job, download it, cancel or delete it.

`Idempotency-Key` (optional, 1-200 characters): the same key with the same body answers the report the
first request created (202, nothing new is queued); the same key with another body is refused with 422
(`errors[0].field = "Idempotency-Key"`, as the IETF `Idempotency-Key` draft advises: the request cannot be
processed as sent). Keys are per user.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import uuid
from datetime import datetime
from typing import Annotated, Any

import orjson
import procrastinate
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import RedirectResponse

from media.changes import ReportChanges
from media.errors import MediaError, SourceUnavailable, StorageUnavailable
from media.metrics import JOBS_QUEUED, kind_of
from media.pocs_client import ExportHandle
from media.queue import cancel_queued, defer_report
from media.report_job import CONTENT_TYPES
from media.reports.model import ReportFilters
from media.repository import Report, ReportRepository
from media.schemas import Report as ReportOut
from media.schemas import ReportCreate, ReportPage
from media.services import services as media_services
from media.sources import Directory, PocExports, export_of
from media.storage.base import ObjectStore
from runtime.auth import CurrentPrincipal, Principal
from runtime.errors import Conflict, FieldError, NotFound, ServiceUnavailable, TooManyRequests, ValidationFailed
from runtime.settings import MediaSettings

log = logging.getLogger("pocdojo.media.api")
router = APIRouter(tags=["reports"])

WAIT_MAX_SECONDS = 25
RETRY_AFTER_SECONDS = 15
"""What a 429 tells the user to wait: about one small report's time."""


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


Responses = dict[int | str, dict[str, Any]]
_COMMON: Responses = {
    400: _problem("Malformed request (e.g. the body is not valid JSON)."),
    401: _problem("Missing, invalid or expired access token (`WWW-Authenticate: Bearer`)."),
    422: _problem("Invalid fields or parameters: `errors` lists each with a code and a message."),
}
_NOT_FOUND: Responses = {
    404: _problem("No such report visible to the caller (another user's, unless an admin; another tenant's).")
}
_UNAVAILABLE: Responses = {503: _problem("A service the request needs (file store, POC catalogue) is unreachable.")}


class Services:
    """What the report routes use, kept on the service's `MediaServices` by the app's startup."""

    def __init__(
        self,
        settings: MediaSettings,
        reports: ReportRepository,
        queue: procrastinate.App,
        exports: PocExports,
        directory: Directory,
        store: ObjectStore,
        changes: ReportChanges,
    ) -> None:
        self.settings = settings
        self.reports = reports
        self.queue = queue
        self.exports = exports
        self.directory = directory
        self.store = store
        self.changes = changes


def _services(request: Request) -> Services:
    return media_services(request).reports


Media = Annotated[Services, Depends(_services)]


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def view(report: Report) -> dict[str, Any]:
    return {
        "id": str(report.id),
        "user_id": str(report.user_id),
        "status": report.status,
        "stage": report.stage,
        "progress": report.progress,
        "error": report.error,
        "format": report.format,
        "locale": report.locale,
        "title": report.title,
        "bom": report.bom,
        "filters": report.filters,
        "row_count": report.row_count,
        "size_bytes": report.size_bytes,
        "created_at": _time(report.created_at),
        "started_at": _time(report.started_at),
        "finished_at": _time(report.finished_at),
        "download_url": f"/v1/reports/{report.id}/download" if report.status == "done" else None,
    }


def _bearer(request: Request) -> str:
    return request.headers["authorization"].split(" ", 1)[1].strip()


def _request_hash(body: ReportCreate) -> str:
    return hashlib.sha256(orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)).hexdigest()


def _filters(body: ReportCreate) -> ReportFilters:
    f = body.filters
    return ReportFilters(
        q=f.q,
        language=f.language,
        tags=tuple(f.tag),
        owner=f.owner,
        created_from=f.created_from,
        created_to=f.created_to,
        sort=f.sort,
    )


def _replay(existing: Report, request_hash: str) -> Report:
    if existing.request_hash != request_hash:
        raise ValidationFailed(
            [FieldError("Idempotency-Key", "key_reused", "this key was used with another request body")]
        )
    return existing


def _too_many(limit: int) -> TooManyRequests:
    return TooManyRequests(
        f"You already have {limit} reports queued or running; wait for one to finish.", retry_after=RETRY_AFTER_SECONDS
    )


def _unavailable(exc: MediaError) -> ServiceUnavailable:
    return ServiceUnavailable(f"{exc}; try again shortly.", headers={"Retry-After": "5"})


@router.post(
    "/v1/reports",
    status_code=202,
    response_model=ReportOut,
    summary="Ask for a report of a search",
    responses={
        **_COMMON,
        413: _problem("The body exceeds the size limit."),
        415: _problem("The body is not JSON (`Content-Type: application/json`)."),
        429: _problem("The caller already has the most reports queued or running (`Retry-After`)."),
        **_UNAVAILABLE,
    },
)
async def create_report(
    body: ReportCreate,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    media: Media,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)] = None,
) -> dict[str, Any]:
    """Freezes the search now (the report holds what `GET /v1/pocs` with these filters returns to the caller
    at this moment, in its order) and queues the job; answers 202 with the report to follow."""
    tenant, user = principal.tenant_id, principal.subject
    request_hash = _request_hash(body)
    limit = media.settings.media_max_active_reports_per_user
    if idempotency_key is not None:
        existing = await media.reports.find_idempotent(tenant, user, idempotency_key)
        if existing is not None:
            return _answer(response, _replay(existing, request_hash))
    if await media.reports.count_active(tenant, user) >= limit:
        raise _too_many(limit)
    bearer = _bearer(request)
    filters = _filters(body)
    try:
        names = await media.directory.caller_names(bearer)
        export = await media.exports.create_export(bearer, filters)
    except SourceUnavailable as exc:
        raise _unavailable(exc) from exc
    values: dict[str, Any] = {
        "format": body.format,
        "locale": body.locale,
        "title": body.title,
        "bom": body.bom,
        "filters": filters.as_json(),
        "header": {"tenant_name": names.tenant_name, "user_name": names.user_name},
        "export_id": export.id,
        "export_secret": export.secret,
        "export_expires_at": export.expires_at,
        "row_count": export.count,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
    }
    report, existing = await media.reports.insert(tenant, user, values, max_active=limit)
    if report is None:
        # Lost a race: the key was taken meanwhile, or the limit reached. The export is not needed.
        await _drop_export(media, export)
        if existing is None:
            raise _too_many(limit)
        return _answer(response, _replay(existing, request_hash))
    try:
        job_id = await defer_report(media.queue, tenant, report.id)
    except procrastinate.exceptions.ConnectorException as exc:
        log.error("report not queued", extra={"report_id": str(report.id), "error": str(exc)})
        await media.reports.fail_unqueued(tenant, report.id, "The report could not be queued; ask again.")
        raise ServiceUnavailable("The job queue cannot be reached; try again shortly.") from exc
    await media.reports.set_job(tenant, report.id, job_id)
    JOBS_QUEUED.labels(kind_of(report.format)).inc()
    log.info("report queued", extra={"report_id": str(report.id), "job_id": job_id, "tenant_id": tenant})
    return _answer(response, report)


def _answer(response: Response, report: Report) -> dict[str, Any]:
    response.headers["Location"] = f"/v1/reports/{report.id}"
    return view(report)


async def _drop_export(media: Services, export: ExportHandle) -> None:
    try:
        await media.exports.delete_export(export)
    except MediaError as exc:
        log.warning("export not deleted; it will expire", extra={"export_id": export.id, "error": str(exc)})


def _cursor(value: str | None) -> tuple[datetime, uuid.UUID] | None:
    if value is None:
        return None
    try:
        created, _, report_id = base64.urlsafe_b64decode(value.encode() + b"==").decode().partition("|")
        return datetime.fromisoformat(created), uuid.UUID(report_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationFailed([FieldError("cursor", "invalid_cursor", "not a cursor this API gave")]) from exc


def _next_cursor(report: Report) -> str:
    raw = f"{report.created_at.isoformat()}|{report.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@router.get(
    "/v1/reports",
    response_model=ReportPage,
    summary="The caller's reports (an admin: the tenant's)",
    responses=_COMMON,
)
async def list_reports(
    principal: CurrentPrincipal,
    media: Media,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    after = _cursor(cursor)
    owner = None if principal.is_admin else principal.subject
    reports = await media.reports.page(principal.tenant_id, owner, limit=limit + 1, after=after)
    more = len(reports) > limit
    reports = reports[:limit]
    return {"items": [view(r) for r in reports], "next_cursor": _next_cursor(reports[-1]) if more else None}


async def _visible(media: Services, principal: Principal, report_id: uuid.UUID) -> Report:
    report = await media.reports.get(principal.tenant_id, report_id)
    if report is None or (not principal.is_admin and str(report.user_id) != principal.subject):
        raise NotFound("No such report.")
    return report


@router.get(
    "/v1/reports/{report_id}",
    response_model=ReportOut,
    summary="A report: status, stage, progress, error, size, times",
    responses={**_COMMON, **_NOT_FOUND},
)
async def get_report(
    report_id: uuid.UUID,
    principal: CurrentPrincipal,
    media: Media,
    wait: Annotated[
        int,
        Query(
            ge=0,
            le=WAIT_MAX_SECONDS,
            description="Seconds to wait for the report's next change (status, stage or progress) before answering; "
            "answers at once when it is finished.",
        ),
    ] = 0,
) -> dict[str, Any]:
    if wait == 0:
        return view(await _visible(media, principal, report_id))
    async with media.changes.watch(report_id) as changed:
        report = await _visible(media, principal, report_id)
        if report.status not in ("queued", "running"):
            return view(report)
        try:
            async with asyncio.timeout(wait):
                await changed.wait()
        except TimeoutError:
            return view(report)
    return view(await _visible(media, principal, report_id))


@router.get(
    "/v1/reports/{report_id}/download",
    status_code=302,
    response_class=RedirectResponse,
    summary="Download a finished report (302 to a short-lived signed URL)",
    responses={
        302: {"description": "To the file's signed URL (valid `POCDOJO_MEDIA_DOWNLOAD_URL_SECONDS`)."},
        **_COMMON,
        **_NOT_FOUND,
        409: _problem("The report is not done (queued, running, failed or cancelled)."),
        **_UNAVAILABLE,
    },
)
async def download_report(report_id: uuid.UUID, principal: CurrentPrincipal, media: Media) -> RedirectResponse:
    report = await _visible(media, principal, report_id)
    if report.status != "done" or report.object_key is None:
        raise Conflict(f"The report is {report.status}; only a done report can be downloaded.")
    try:
        url = await media.store.signed_url(
            report.object_key,
            filename=report.filename,
            content_type=CONTENT_TYPES[report.format],
            expires_in=media.settings.media_download_url_seconds,
        )
    except StorageUnavailable as exc:
        raise _unavailable(exc) from exc
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})


@router.delete(
    "/v1/reports/{report_id}",
    status_code=204,
    summary="Cancel a queued or running report; delete a finished one and its file",
    responses={204: {"description": "Cancelled or deleted."}, **_COMMON, **_NOT_FOUND, **_UNAVAILABLE},
)
async def delete_report(report_id: uuid.UUID, principal: CurrentPrincipal, media: Media) -> Response:
    report = await _visible(media, principal, report_id)
    tenant = principal.tenant_id
    if report.status in ("queued", "running"):
        cancelled = await media.reports.cancel(tenant, report_id)
        if cancelled is not None:
            # A queued job never starts; a running one stops at its next progress step (`media.report_job`).
            if cancelled.job_id is not None:
                await cancel_queued(media.queue, cancelled.job_id)
            export = export_of(cancelled)
            if export is not None:
                await _drop_export(media, export)
            log.info("report cancelled", extra={"report_id": str(report_id), "tenant_id": tenant})
            return Response(status_code=204)
        report = await _visible(media, principal, report_id)  # it finished meanwhile: delete it
    if report.object_key is not None:
        try:
            await media.store.delete(report.object_key)
        except StorageUnavailable as exc:
            raise _unavailable(exc) from exc
    await media.reports.delete(tenant, report_id)
    return Response(status_code=204)
