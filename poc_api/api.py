"""POC HTTP routes (API.md §POCs): register, read, change, delete and search.

Handlers validate with `poc_api.validation` (collecting every field's error into one 422), call
`PocService`, and answer with the JSON documents PostgreSQL built, concatenated rather than re-encoded
(`response_model` still documents the shape; FastAPI does not re-validate a returned `Response`).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import Field, TypeAdapter, ValidationError
from starlette.datastructures import QueryParams

from poc_api import cursor as cursors
from poc_api.filters import RawFilters, check_filters
from poc_api.schemas import Poc, PocCreate, PocFacets, PocPage, PocUpdate
from poc_api.search import FACETS_TOP_DEFAULT, FACETS_TOP_MAX, SORTS, SearchParams
from poc_api.service import NewPoc, PocChanges, PocService
from poc_api.services import services
from poc_api.validation import (
    QUERY_MAX,
    TAGS_MAX,
    check_description,
    check_github_url,
    check_name,
    check_tags,
)
from runtime.auth import BEARER_SECURITY, CurrentPrincipal, principal_from_request
from runtime.body_checks import checks_body
from runtime.errors import FieldError, ValidationFailed
from runtime.languages import check_language

router = APIRouter(tags=["pocs"])

JSON = "application/json"


def problem_doc(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


Responses = dict[int | str, dict[str, Any]]

_COMMON: Responses = {
    400: problem_doc("Malformed request (e.g. the body is not valid JSON)."),
    401: problem_doc("Missing, invalid or expired access token (`WWW-Authenticate: Bearer`)."),
    422: problem_doc("Invalid fields or parameters: `errors` lists each with a code and a message."),
}
_BODY: Responses = {
    413: problem_doc("The body exceeds the size limit."),
    415: problem_doc("The body is not JSON (`Content-Type: application/json`)."),
}
_NOT_FOUND: Responses = {
    404: problem_doc("No POC with this id in the caller's tenant (other tenants' POCs are never visible).")
}
_FORBIDDEN: Responses = {403: problem_doc("Only the POC's owner or a tenant admin may change or delete it.")}
_CONFLICT: Responses = {409: problem_doc("The tenant already has a POC for this repository; `existing_poc` names it.")}


async def _service(request: Request) -> PocService:
    service = services(request).pocs
    return service


Service = Annotated[PocService, Depends(_service)]


def _json(document: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(content=document, status_code=status_code, media_type=JSON, headers=headers)


@router.post(
    "/v1/pocs",
    status_code=201,
    response_model=Poc,
    summary="Register a POC",
    description="Creates a POC owned by the caller. Emits `poc.created` to the outbox.",
    responses={**_COMMON, **_BODY, **_CONFLICT},
)
@checks_body(lambda body, refused: _check_new(body, refused)[1])
async def create_poc(body: PocCreate, principal: CurrentPrincipal, service: Service) -> Response:
    """POST /v1/pocs: validate every field, then register (201 with Location)."""
    poc, errors = _check_new(body.model_dump(), frozenset())
    if errors:
        raise ValidationFailed(errors)
    assert poc is not None
    poc_id, document = await service.create(principal, poc)
    return _json(document, 201, {"Location": f"/v1/pocs/{poc_id}"})


def _check_new(body: Mapping[str, Any], refused: frozenset[str]) -> tuple[NewPoc | None, list[FieldError]]:
    """A new POC's fields by the rules of `poc_api.validation`, skipping those in `refused` and those not of
    their JSON type (the framework reports those: `runtime.body_checks`)."""
    errors: list[FieldError] = []

    def text(field: str, check: Callable[[str], tuple[str, list[FieldError]]]) -> str:
        value = body.get(field)
        if field in refused or not isinstance(value, str):
            return ""
        checked, bad = check(value)
        errors.extend(bad)
        return checked

    name = text("name", check_name)
    github_url = text("github_url", check_github_url)
    language = text("language", check_language)
    raw_tags = body.get("tags", [])
    tags: list[str] = []
    if "tags" not in refused and isinstance(raw_tags, list) and all(isinstance(t, str) for t in raw_tags):
        tags, bad = check_tags(raw_tags)
        errors += bad
    raw_description = body.get("description")
    description = ""
    if "description" not in refused and (raw_description is None or isinstance(raw_description, str)):
        description, bad = check_description(raw_description)
        errors += bad
    if errors or refused:
        return None, errors
    return NewPoc(name, github_url, language, tags, description), errors


@router.get(
    "/v1/pocs/{poc_id}",
    response_model=Poc,
    summary="One POC",
    responses={**_COMMON, **_NOT_FOUND},
)
async def get_poc(poc_id: uuid.UUID, principal: CurrentPrincipal, service: Service) -> Response:
    """GET /v1/pocs/{id}."""
    return _json(await service.get(principal, poc_id))


@router.patch(
    "/v1/pocs/{poc_id}",
    response_model=Poc,
    summary="Change a POC (owner or admin)",
    description=(
        "Changes the given fields; absent fields stay. `tags` replaces the whole list; `description: null` clears "
        "it. Emits `poc.updated` with the changed fields, unless nothing changed."
    ),
    responses={**_COMMON, **_BODY, **_FORBIDDEN, **_NOT_FOUND, **_CONFLICT},
)
async def update_poc(poc_id: uuid.UUID, body: PocUpdate, principal: CurrentPrincipal, service: Service) -> Response:
    """PATCH /v1/pocs/{id}: only the fields present in the body are validated and changed."""
    given = body.model_fields_set
    errors: list[FieldError] = []
    for required in ("name", "github_url", "language", "tags"):
        if required in given and getattr(body, required) is None:
            errors.append(FieldError(required, "null", "cannot be null; leave it out to keep the current value"))
    name = github_url = language = description = None
    tags = None
    if body.name is not None:
        name, bad = check_name(body.name)
        errors += bad
    if body.github_url is not None:
        github_url, bad = check_github_url(body.github_url)
        errors += bad
    if body.language is not None:
        language, bad = check_language(body.language)
        errors += bad
    if body.tags is not None:
        tags, bad = check_tags(body.tags)
        errors += bad
    if "description" in given:
        description, bad = check_description(body.description)
        errors += bad
    if errors:
        raise ValidationFailed(errors)
    changes = PocChanges(name=name, github_url=github_url, language=language, tags=tags, description=description)
    return _json(await service.update(principal, poc_id, changes))


@router.delete(
    "/v1/pocs/{poc_id}",
    status_code=204,
    summary="Delete a POC (owner or admin)",
    description="Emits `poc.deleted` (with the POC's last state) to the outbox.",
    responses={204: {"description": "Deleted."}, **_COMMON, **_FORBIDDEN, **_NOT_FOUND},
)
async def delete_poc(poc_id: uuid.UUID, principal: CurrentPrincipal, service: Service) -> Response:
    """DELETE /v1/pocs/{id}: 204."""
    await service.delete(principal, poc_id)
    return Response(status_code=204)


_SORT_DESCRIPTION = "`relevance` (the default with q), `-created_at` (otherwise), `created_at`, `name`, `-name`."
_SEARCH_DESCRIPTION = """Search the tenant's catalogue. Every filter narrows the result (AND).

- `q`: words searched in names and descriptions, ignoring accents and case (`integracao` finds
  *Integração*) and forgiving typos (`kubernets` finds *Kubernetes*: one edit for words of 4-7
  characters, two from 8); a word also matches longer words it begins (`pagamento` → *pagamentos*).
  Tags count as words of the description. Every word must match (at most 10 words). Beside a word of 3+
  characters, words under 2 characters and common words (*de*, *para*, *the*, *with*...) are ignored; a
  query without such a word (`k`, `ku`, `de`: search-as-you-type) matches each word as a prefix.
- `sort`: `relevance` (default when `q` is given: best match first, then newest), `-created_at`
  (default otherwise), `created_at`, `name`, `-name` (names compared without accents or case).
- Pagination: `limit` (1-100, default 20) and the `next_cursor` of the previous page as `cursor`,
  with the same filters and sort. Pages are keyset-based: rows added while paging never cause a row
  to be served twice or skipped.
"""


def _query_parameter(name: str, description: str, kind: str = "string", **schema: Any) -> dict[str, Any]:
    """An optional query parameter as FastAPI documents `Annotated[str | None, Query(...)] = None`."""
    item: dict[str, Any] = {"type": "array", "items": {"type": "string"}} if kind == "array" else {"type": kind}
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {
            "anyOf": [item, {"type": "null"}],
            "description": description,
            "title": name.replace("_", " ").title(),
            **schema,
        },
        "description": description,
    }


LIMIT_DEFAULT, LIMIT_MAX = 20, 100
_SEARCH_PARAMETERS = [
    _query_parameter("q", "Free text over name, description and tags.", maxLength=QUERY_MAX),
    _query_parameter("language", "A language name (case-insensitive, aliases accepted).", examples=["python"]),
    _query_parameter(
        "tag", f"Repeatable; a POC must carry every tag given (at most {TAGS_MAX}).", "array", examples=[["pix"]]
    ),
    _query_parameter("owner", "`me` for the caller's POCs, or a user id.", examples=["me"]),
    _query_parameter(
        "created_from", "Created at or after: RFC 3339 date-time (UTC if no offset) or a date (start of day)."
    ),
    _query_parameter("created_to", "Created before: RFC 3339 date-time, or a date (then the whole day is included)."),
    _query_parameter("sort", _SORT_DESCRIPTION, enum=list(SORTS)),
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": LIMIT_MAX,
            "default": LIMIT_DEFAULT,
            "description": "Page size.",
            "title": "Limit",
        },
        "description": "Page size.",
    },
    _query_parameter("cursor", "`next_cursor` of the previous page.", maxLength=512),
]
"""The search's query parameters, documented by hand: the handler reads them itself (`_search_params`)
rather than through FastAPI's per-parameter machinery, which cost more than the search's own Python."""

_LIMIT: TypeAdapter[int] = TypeAdapter(Annotated[int, Field(ge=1, le=LIMIT_MAX)])


def _limit(value: str | None) -> int:
    """`limit` validated as FastAPI validates `Query(ge=1, le=100)`, with the same 422 on failure."""
    if value is None:
        return LIMIT_DEFAULT
    try:
        return _LIMIT.validate_python(value)
    except ValidationError as exc:
        errors = [{**error, "loc": ("query", "limit", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from exc


@router.get(
    "/v1/pocs",
    response_model=PocPage,
    summary="Search POCs",
    description=_SEARCH_DESCRIPTION,
    responses=_COMMON,
    openapi_extra={"parameters": _SEARCH_PARAMETERS, "security": BEARER_SECURITY},
)
async def search_pocs(request: Request) -> Response:
    """GET /v1/pocs: validate the parameters, resolve defaults (sort, owner=me), check the cursor, search.

    The parameters are read as FastAPI reads the documented ones (`_SEARCH_PARAMETERS`): of a repeated
    parameter the last value, except `tag` (every value); `limit` is checked first, as FastAPI checks
    typed parameters before calling a handler, with the same 422. The caller is authenticated first
    (`principal_from_request`: `CurrentPrincipal` without the dependency machinery)."""
    principal = await principal_from_request(request)
    service = services(request).pocs
    query = request.query_params
    limit = _limit(query.get("limit"))
    params = _filters(query, principal.subject, sort=query.get("sort"), limit=limit)
    cursor = query.get("cursor")
    if cursor is not None:
        position = cursors.decode(cursor, params.sort, cursors.fingerprint(params.fingerprint_parts()))
        params = dataclasses.replace(params, position=position)
    page = await service.search(principal, params)
    next_cursor = orjson.dumps(page.next_cursor).decode()
    return _json('{"items":[' + ",".join(page.documents) + '],"next_cursor":' + next_cursor + "}")


def _filters(query: QueryParams, subject: str, *, sort: str | None, limit: int) -> SearchParams:
    """The search's query parameters checked by `check_filters` (of a repeated one the last value, of
    `tag` every value)."""
    raw = RawFilters(
        q=query.get("q"),
        language=query.get("language"),
        tag=query.getlist("tag"),
        owner=query.get("owner"),
        created_from=query.get("created_from"),
        created_to=query.get("created_to"),
        sort=sort,
    )
    return check_filters(raw, subject, limit=limit)


facets_router = APIRouter(tags=["pocs"])
"""`GET /v1/pocs/facets`, included before `router` so that `/v1/pocs/{poc_id}` does not take its path."""

_TOP: TypeAdapter[int] = TypeAdapter(Annotated[int, Field(ge=1, le=FACETS_TOP_MAX)])


@facets_router.get(
    "/v1/pocs/facets",
    response_model=PocFacets,
    summary="Counts per language and per tag of a search's matches (filter chips)",
    description=(
        "Takes the search's filters (`q`, `language`, `tag`, `owner`, `created_from`, `created_to`; `sort`, "
        "`limit` and `cursor` do not apply) and counts the POCs they match per language and per tag: the "
        "`top` most frequent of each, most frequent first (ties by value)."
    ),
    responses=_COMMON,
    openapi_extra={
        "parameters": [
            *[p for p in _SEARCH_PARAMETERS if p["name"] not in ("sort", "limit", "cursor")],
            {
                "name": "top",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": FACETS_TOP_MAX,
                    "default": FACETS_TOP_DEFAULT,
                    "description": "Values per facet.",
                    "title": "Top",
                },
                "description": "Values per facet.",
            },
        ],
        "security": BEARER_SECURITY,
    },
)
async def poc_facets(request: Request) -> dict[str, Any]:
    """GET /v1/pocs/facets."""
    principal = await principal_from_request(request)
    service = services(request).pocs
    query = request.query_params
    raw_top = query.get("top")
    top = FACETS_TOP_DEFAULT
    if raw_top is not None:
        try:
            top = _TOP.validate_python(raw_top)
        except ValidationError as exc:
            errors = [{**error, "loc": ("query", "top", *error["loc"])} for error in exc.errors(include_url=False)]
            raise RequestValidationError(errors) from exc
    params = _filters(query, principal.subject, sort="-created_at", limit=1)
    return await service.facets(principal, params, top)
