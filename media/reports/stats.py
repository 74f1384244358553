"""The figures a report's summary and charts show, computed in one pass over its rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo

from media.reports.locale import month_label
from media.reports.model import Locale, PocRow

MONTHS = 12


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts over a non-empty list of POCs; rankings are by count, then by name."""

    count: int
    languages: list[tuple[str, int]]
    tags: list[tuple[str, int]]
    """Every tag with the number of POCs carrying it."""
    tag_count: int
    owner_count: int
    first_created: datetime
    last_created: datetime
    per_month: list[tuple[int, int, int]]
    """(year, month, POCs created) for the `MONTHS` calendar months up to the request's, oldest first."""

    def months(self, locale: Locale) -> list[tuple[str, int]]:
        return [(month_label(year, month, locale), count) for year, month, count in self.per_month]


def _ranked(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def last_months(requested_at: datetime, tz: tzinfo) -> list[tuple[int, int]]:
    """The `MONTHS` calendar months (year, month) ending with the month of `requested_at` in `tz`."""
    local = requested_at.astimezone(tz)
    index = local.year * 12 + local.month - 1
    return [(i // 12, i % 12 + 1) for i in range(index - MONTHS + 1, index + 1)]


def summarize(rows: Iterable[PocRow], requested_at: datetime, tz: tzinfo) -> Stats:
    """The figures of `rows` (at least one); months are counted in `tz`, up to `requested_at`."""
    languages: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    owners: set[str] = set()
    months: Counter[tuple[int, int]] = Counter()
    first: datetime | None = None
    last: datetime | None = None
    count = 0
    for row in rows:
        count += 1
        languages[row.language] += 1
        tags.update(row.tags)
        owners.add(row.owner_id)
        if row.created_at <= requested_at:
            local = row.created_at.astimezone(tz)
            months[(local.year, local.month)] += 1
        first = row.created_at if first is None or row.created_at < first else first
        last = row.created_at if last is None or row.created_at > last else last
    if first is None or last is None:
        raise ValueError("summarize needs at least one row")
    per_month = [(year, month, months[(year, month)]) for year, month in last_months(requested_at, tz)]
    return Stats(
        count=count,
        languages=_ranked(languages),
        tags=_ranked(tags),
        tag_count=len(tags),
        owner_count=len(owners),
        first_created=first,
        last_created=last,
        per_month=per_month,
    )
