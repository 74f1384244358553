"""The media service's client of the POC service's export API (`POST /v1/pocs/exports` and the export's
items): how a report gets exactly the POCs `GET /v1/pocs` showed its user when it was asked for.

At request time the media API calls `create_export` with the user's own bearer token and the report's
filters; the POC service runs that search under the user's tenant and keeps the result. The worker later
reads it with `iter_rows` and removes it with `delete_export`, authorized by the export's secret (the
`ExportHandle`), since the user's token will have expired by then.

Errors, translated here once:
- the POC service's answers about the request (`create_export`): 422 → `runtime.errors.ValidationFailed`
  with every field under `filters.` (`q` → `filters.q`; the POC service names the whole search
  `filters`), 401 → `Unauthorized`, 403 → `Forbidden`, 429 → `TooManyRequests` with its Retry-After;
- the service unreachable, timing out or failing (5xx) → `media.errors.SourceUnavailable` (retry later);
- an export gone (`iter_rows`: 404, expired or deleted) or any other refusal → `media.errors.SourceError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx
import orjson

from media.errors import SourceError, SourceUnavailable
from media.reports.model import PocRow, ReportFilters
from runtime.errors import FieldError, Forbidden, TooManyRequests, Unauthorized, ValidationFailed
from runtime.settings import MediaSettings
from runtime.tracing import instrument_http_client

EXPORTS = "/v1/pocs/exports"
PAGE_SIZE_MAX = 1000
TIMEOUT_SECONDS = 30.0
EXPIRED = "the report's POC list expired or was deleted"


@dataclass(frozen=True)
class ExportHandle:
    """An export the POC service made: what the worker needs to read and delete it (keep it with the job)."""

    id: str
    secret: str = field(repr=False)
    count: int
    expires_at: datetime


def _filters_field(name: str) -> str:
    """A POC service field name as the report request names it: under `filters`."""
    return name if name == "filters" or name.startswith("filters.") else f"filters.{name}"


def _problem(response: httpx.Response) -> dict[str, Any]:
    """The problem+json body of an error answer ({} when it is not one)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(response: httpx.Response) -> str:
    detail = _problem(response).get("detail")
    return str(detail) if detail else f"the POC service answered {response.status_code}"


def _validation_failed(response: httpx.Response) -> ValidationFailed:
    errors = [
        FieldError(_filters_field(str(e.get("field", ""))), str(e.get("code", "invalid")), str(e.get("message", "")))
        for e in _problem(response).get("errors") or []
        if isinstance(e, Mapping)
    ]
    if not errors:
        raise SourceError(f"The POC service refused the report's filters without saying why ({response.status_code}).")
    return ValidationFailed(errors)


def _retry_after(response: httpx.Response) -> int:
    value = response.headers.get("retry-after", "")
    return int(value) if value.isdigit() else 1


def _unavailable(exc: httpx.TransportError) -> SourceUnavailable:
    return SourceUnavailable(f"The POC service cannot be reached now ({type(exc).__name__}); retrying later.")


class PocsClient:
    """An async client of the POC service (one connection pool); an async context manager, or `aclose()`."""

    def __init__(
        self, base_url: str, *, timeout: float = TIMEOUT_SECONDS, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout, transport=transport)
        instrument_http_client(self._http)  # the worker's and the API's calls carry their trace

    @classmethod
    def from_settings(cls, settings: MediaSettings) -> PocsClient:
        """The client of `POCDOJO_POC_SERVICE_URL`, or of `public_url` when unset (`pocdojo dev`)."""
        return cls(settings.poc_service_base)

    async def __aenter__(self) -> PocsClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise _unavailable(exc) from exc
        if response.status_code >= 500:
            raise SourceUnavailable(f"The POC service failed ({response.status_code}); retrying later.")
        return response

    async def create_export(self, bearer: str, filters: ReportFilters) -> ExportHandle:
        """Freeze the search `filters` describes, as the token's user sees it now."""
        response = await self._send(
            "POST", EXPORTS, json={"filters": filters.as_json()}, headers={"Authorization": f"Bearer {bearer}"}
        )
        status = response.status_code
        if status == 201:
            body = _json(response)
            try:
                return ExportHandle(
                    id=str(body["id"]),
                    secret=str(body["secret"]),
                    count=int(body["count"]),
                    expires_at=datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00")),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise SourceError("The POC service answered an export this client cannot read.") from exc
        if status == 422:
            raise _validation_failed(response)
        if status == 401:
            code = str(_problem(response).get("code") or "invalid_token")
            raise Unauthorized(_detail(response), code=code)
        if status == 403:
            raise Forbidden(_detail(response))
        if status == 429:
            raise TooManyRequests(_detail(response), retry_after=_retry_after(response))
        raise SourceError(f"The POC service refused to export the report's POCs ({status}: {_detail(response)}).")

    async def iter_rows(self, handle: ExportHandle, page_size: int = PAGE_SIZE_MAX) -> AsyncIterator[PocRow]:
        """Every POC of the export, in the search's order, `page_size` per request."""
        if not 1 <= page_size <= PAGE_SIZE_MAX:
            raise ValueError(f"page_size must be between 1 and {PAGE_SIZE_MAX}")
        after = 0
        while True:
            response = await self._send(
                "GET",
                f"{EXPORTS}/{handle.id}/items",
                params={"after": after, "limit": page_size},
                headers={"Export-Secret": handle.secret},
            )
            if response.status_code == 404:
                raise SourceError(EXPIRED)
            if response.status_code != 200:
                raise SourceError(f"The POC service refused the report's POCs ({response.status_code}).")
            page = _json(response)
            try:
                items, after_next = page["items"], page["next"]
                rows = [PocRow.from_api(item) for item in items]
            except (KeyError, TypeError, ValueError) as exc:
                raise SourceError("The POC service answered a page of POCs this client cannot read.") from exc
            for row in rows:
                yield row
            if after_next is None:
                return
            if not isinstance(after_next, int) or after_next <= after:
                raise SourceError("The POC service answered a page of POCs this client cannot read.")
            after = after_next

    async def delete_export(self, handle: ExportHandle) -> None:
        """Remove the export (the report is done with it). An export already gone (expired) is fine."""
        response = await self._send("DELETE", f"{EXPORTS}/{handle.id}", headers={"Export-Secret": handle.secret})
        if response.status_code not in (204, 404):
            raise SourceError(f"The POC service refused to delete the report's POCs ({response.status_code}).")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise SourceError("The POC service answered something that is not JSON.") from exc
    if not isinstance(body, dict):
        raise SourceError("The POC service answered JSON of an unexpected shape.")
    return body
