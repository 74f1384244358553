"""What a report is drawn from: the POCs (as `GET /v1/pocs` returns them) and the request's header.

The renderers (`media.reports.pdf`, `media.reports.csv_report`) take only these values, so they can be
tested and benchmarked without a database, a queue or a network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

Locale = Literal["pt-BR", "en"]
LOCALES: tuple[Locale, ...] = ("pt-BR", "en")
Format = Literal["pdf", "csv"]
FORMATS: tuple[Format, ...] = ("pdf", "csv")


def _utc(value: str) -> datetime:
    """An RFC 3339 time as `GET /v1/pocs` writes it (`...Z` or an offset), timezone-aware."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class PocRow:
    """One POC of a report, as the POC service's search returns it (normalized values)."""

    id: str
    name: str
    description: str
    github_url: str
    language: str
    tags: tuple[str, ...]
    owner_id: str
    created_at: datetime

    @classmethod
    def from_api(cls, doc: Mapping[str, Any]) -> PocRow:
        """A POC from an item of `GET /v1/pocs` (or of the POC service's export of the same search)."""
        return cls(
            id=str(doc["id"]),
            name=str(doc["name"]),
            description=str(doc.get("description") or ""),
            github_url=str(doc["github_url"]),
            language=str(doc["language"]),
            tags=tuple(str(tag) for tag in doc.get("tags") or ()),
            owner_id=str(doc["owner_id"]),
            created_at=_utc(str(doc["created_at"])),
        )


@dataclass(frozen=True, slots=True)
class ReportFilters:
    """The search a report was asked for: the parameters of `GET /v1/pocs`, as the user gave them."""

    q: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()
    owner: str | None = None
    """`me`, a user id, or None (everyone's POCs)."""
    created_from: str | None = None
    created_to: str | None = None
    sort: str | None = None

    def is_empty(self) -> bool:
        return not (self.q or self.language or self.tags or self.owner or self.created_from or self.created_to)

    def as_query(self) -> list[tuple[str, str]]:
        """The filters as `GET /v1/pocs` query parameters (`tag` repeated), in a stable order."""
        pairs: list[tuple[str, str]] = []
        for name in ("q", "language", "owner", "created_from", "created_to", "sort"):
            value = getattr(self, name)
            if value is not None:
                pairs.append((name, value))
        pairs.extend(("tag", tag) for tag in self.tags)
        return pairs

    def as_json(self) -> dict[str, Any]:
        """The filters as the report's JSON (`tag` as a list), the keys that are set only."""
        body: dict[str, Any] = {name: value for name, value in self.as_query() if name != "tag"}
        if self.tags:
            body["tag"] = list(self.tags)
        return body


@dataclass(frozen=True, slots=True)
class ReportHeader:
    """What the cover (PDF) and the header row (CSV) say about the request."""

    tenant_name: str
    user_name: str
    requested_at: datetime
    """Timezone-aware; shown in `timezone`."""
    locale: Locale
    filters: ReportFilters = field(default_factory=ReportFilters)
    title: str | None = None
    owner_names: Mapping[str, str] = field(default_factory=dict)
    """Display names of the filters' user ids (e.g. `owner`), when known, to say the filters in words."""
    timezone: str = "America/Sao_Paulo"


class ProgressSink(Protocol):
    """Told how far a renderer is: `done` of `total` rows (total may grow while rows stream in)."""

    def __call__(self, done: int, total: int) -> None: ...
