"""Export routes: `POST /v1/pocs/exports`, `GET /v1/pocs/exports/{id}/items`, `DELETE /v1/pocs/exports/{id}`.

Creating an export takes the caller's bearer token and the search's filters (checked by the same rules
as `GET /v1/pocs`: `poc_api.filters`); reading and deleting it take the secret it answered, in the
`Export-Secret` header, and no token (`poc_api.exports` explains why).
"""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request, Response

from poc_api.api import JSON, Responses, problem_doc
from poc_api.exports import PAGE_MAX, SECRET_MAX_LENGTH, ExportService
from poc_api.filters import RawFilters, check_filters
from poc_api.schemas import ExportCreate, ExportCreated, ExportItems
from poc_api.services import services
from runtime.auth import CurrentPrincipal

export_router = APIRouter(tags=["exports"])
"""Included before `poc_api.api.router`, like the facets, so that `/v1/pocs/{poc_id}` never takes its paths."""


_SECRET_DOC = "The `secret` `POST /v1/pocs/exports` answered."  # noqa: S105 - a description
_GONE: Responses = {
    404: problem_doc("No export with this id and secret: unknown, deleted, expired, or another tenant's.")
}
_COMMON: Responses = {
    400: problem_doc("Malformed request (e.g. the body is not valid JSON)."),
    422: problem_doc("Invalid fields or parameters: `errors` lists each with a code and a message."),
}


async def _service(request: Request) -> ExportService:
    service = services(request).exports
    return service


@export_router.post(
    "/v1/pocs/exports",
    status_code=201,
    response_model=ExportCreated,
    summary="Export a search (for a report)",
    description=(
        "Runs the search `GET /v1/pocs` would run with these filters for the caller and keeps every POC it "
        "returns, in its order (all pages), as they are now. `filters` follows `GET /v1/pocs`' rules and "
        "answers the same 422 field errors (`q`, `tag.0`...; a value of the wrong JSON type: `filters.q`). A "
        "search matching more POCs than an export holds is refused (422 on `filters`). Each user holds a few "
        "unexpired exports at most (429 with Retry-After). Purges expired exports."
    ),
    responses={
        **_COMMON,
        401: problem_doc("Missing, invalid or expired access token (`WWW-Authenticate: Bearer`)."),
        413: problem_doc("The body exceeds the size limit."),
        415: problem_doc("The body is not JSON (`Content-Type: application/json`)."),
        429: {
            **problem_doc("The caller holds as many unexpired exports as allowed."),
            "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
        },
    },
)
async def create_export(body: ExportCreate, principal: CurrentPrincipal, request: Request) -> Response:
    """POST /v1/pocs/exports: 201 with the id, count, secret and expiry."""
    f = body.filters
    raw = RawFilters(f.q, f.language, f.tag, f.owner, f.created_from, f.created_to, f.sort)
    params = check_filters(raw, principal.subject, limit=1)
    created = await (await _service(request)).create(principal, params)
    document = {
        "id": str(created.id),
        "count": created.count,
        "secret": created.secret,
        "expires_at": created.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    return Response(
        orjson.dumps(document), status_code=201, media_type=JSON, headers={"Location": f"/v1/pocs/exports/{created.id}"}
    )


SecretHeader = Annotated[
    str, Header(alias="Export-Secret", description=_SECRET_DOC, min_length=1, max_length=SECRET_MAX_LENGTH)
]


@export_router.get(
    "/v1/pocs/exports/{export_id}/items",
    response_model=ExportItems,
    summary="A page of an export's POCs",
    description="Authorized by the export's secret (`Export-Secret`), not by an access token.",
    responses={**_COMMON, **_GONE},
)
async def export_items(
    export_id: uuid.UUID,
    secret: SecretHeader,
    request: Request,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="The `next` of the previous page.")] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX, description="Page size.")] = 100,
) -> Response:
    """GET /v1/pocs/exports/{id}/items: the documents concatenated as stored."""
    page = await (await _service(request)).page(export_id, secret, after=after, limit=limit)
    tail: dict[str, Any] = {"next": page.next, "count": page.count}
    return Response(
        '{"items":[' + ",".join(page.documents) + "]," + orjson.dumps(tail).decode()[1:],
        media_type=JSON,
    )


@export_router.delete(
    "/v1/pocs/exports/{export_id}",
    status_code=204,
    summary="Delete an export",
    description="Authorized by the export's secret (`Export-Secret`), not by an access token.",
    responses={204: {"description": "Deleted."}, **_COMMON, **_GONE},
)
async def delete_export(export_id: uuid.UUID, secret: SecretHeader, request: Request) -> Response:
    """DELETE /v1/pocs/exports/{id}: 204."""
    await (await _service(request)).delete(export_id, secret)
    return Response(status_code=204)
