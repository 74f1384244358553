"""Request and response shapes of `/v1/reports`, as the OpenAPI document shows them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.text import StorableText

_EXAMPLE_REPORT: dict[str, Any] = {
    "id": "9a1f3c52-0d5e-4f55-8f0b-2a9a3c1d7e44",
    "user_id": "5d2c9d3e-8a51-4b43-9c8e-1f0a7e6b4d21",
    "status": "running",
    "stage": "rendering",
    "progress": 42,
    "error": None,
    "format": "pdf",
    "locale": "pt-BR",
    "title": "POCs de pagamentos",
    "bom": False,
    "filters": {"language": "Go", "tag": ["pix"]},
    "row_count": 120,
    "size_bytes": None,
    "created_at": "2026-12-05T12:00:00Z",
    "started_at": "2026-12-05T12:00:00.050000Z",
    "finished_at": None,
    "download_url": None,
}


class ReportFiltersIn(BaseModel):
    """The parameters of `GET /v1/pocs`, with its rules (the POC service checks them: errors come back with
    their field names prefixed by `filters.`, e.g. `filters.language`, `filters.tag.0`)."""

    model_config = ConfigDict(extra="forbid")
    q: StorableText | None = Field(default=None, description="Search words, as `GET /v1/pocs?q=`.")
    language: StorableText | None = Field(default=None, description="A language, as `GET /v1/pocs?language=`.")
    tag: list[StorableText] = Field(default_factory=list, description="Tags (every one must match).")
    owner: StorableText | None = Field(default=None, description="`me` or a user id.")
    created_from: StorableText | None = Field(default=None, description="RFC 3339 date or time (inclusive).")
    created_to: StorableText | None = Field(default=None, description="RFC 3339 date or time (exclusive).")
    sort: StorableText | None = Field(default=None, description="As `GET /v1/pocs?sort=`.")


class ReportCreate(BaseModel):
    """A report of the POCs `GET /v1/pocs` returns with these filters, now, in its order."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"format": "csv", "locale": "en", "filters": {"q": "pix"}, "bom": True}]},
    )
    format: Literal["pdf", "csv"] = Field(description="`pdf` or `csv`.")
    locale: Literal["pt-BR", "en"] = Field(description="Language of the texts, dates and numbers.")
    filters: ReportFiltersIn = Field(default_factory=ReportFiltersIn)
    title: StorableText | None = Field(
        default=None, min_length=1, max_length=200, description="The cover's title (PDF); a default otherwise."
    )
    bom: bool = Field(default=False, description="CSV: start with a UTF-8 byte order mark (for Excel).")


class Report(BaseModel):
    """A report and its job: `status` queued → running → done | failed | cancelled; while running, `stage`
    (queued, reading, rendering, uploading, done) and `progress` (0-100) tell how far it is."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_REPORT]})
    id: str
    user_id: str = Field(description="Who asked for it.")
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    stage: Literal["queued", "reading", "rendering", "uploading", "done"]
    progress: int = Field(ge=0, le=100)
    error: str | None = Field(description="Why it failed (or why it is being retried), in words.")
    format: Literal["pdf", "csv"]
    locale: Literal["pt-BR", "en"]
    title: str | None
    bom: bool
    filters: dict[str, Any] = Field(description="The filters as given.")
    row_count: int | None = Field(description="POCs in the report (known once the search was frozen).")
    size_bytes: int | None = Field(description="The file's size once done.")
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    started_at: str | None = Field(json_schema_extra={"format": "date-time"})
    finished_at: str | None = Field(json_schema_extra={"format": "date-time"})
    download_url: str | None = Field(description="Once done: the API path that redirects to the file.")


class ReportPage(BaseModel):
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""

    items: list[Report]
    next_cursor: str | None = Field(description="Opaque; null on the last page.")


class FieldProblem(BaseModel):
    field: str = Field(description="The field or parameter, e.g. `format`, `filters.language`, `cursor`.")
    code: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details (`application/problem+json`)."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = Field(default=None, description="Present on 422: one entry per field.")
    retry_after: int | None = Field(default=None, description="Present on 429: seconds to wait.")
