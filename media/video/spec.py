"""What a year-in-review video is asked for (`VideoSpec`), what comes out (`VideoResult`), and which POCs
of the rows fall in its period (`select_pocs`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from media.reports.model import Locale, PocRow

Resolution = Literal["720p", "1080p"]
RESOLUTIONS: dict[Resolution, tuple[int, int]] = {"720p": (1280, 720), "1080p": (1920, 1080)}
PeriodKind = Literal["last-12-months", "year"]


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open time range `[start, end)` of timezone-aware datetimes, and how the user named it."""

    kind: PeriodKind
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period's start and end must be timezone-aware")
        if self.start >= self.end:
            raise ValueError("a period must start before it ends")

    @classmethod
    def last_12_months(cls, end: datetime) -> Period:
        """The twelve months up to `end` (aware): from the same instant one year earlier (Feb 29 → Feb 28)."""
        if end.tzinfo is None:
            raise ValueError("a period's end must be timezone-aware")
        try:
            start = end.replace(year=end.year - 1)
        except ValueError:
            start = end.replace(year=end.year - 1, day=28)
        return cls("last-12-months", start, end)

    @classmethod
    def calendar_year(cls, year: int, timezone: str = "America/Sao_Paulo") -> Period:
        """January 1st to the next January 1st, midnight in `timezone`."""
        zone = ZoneInfo(timezone)
        return cls("year", datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone))

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class VideoSpec:
    """The request: whose video, which period, how big, in which language."""

    user_name: str
    tenant_name: str
    period: Period
    resolution: Resolution = "720p"
    locale: Locale = "pt-BR"
    timezone: str = "America/Sao_Paulo"
    """Where dates on the cards are shown (a POC's day and month)."""

    @property
    def size(self) -> tuple[int, int]:
        return RESOLUTIONS[self.resolution]


@dataclass(frozen=True, slots=True)
class VideoResult:
    """The files a render left in its output directory, and what a probe of the MP4 says."""

    video: Path
    thumbnail: Path
    captions: Path
    duration: float
    """Seconds, as probed from the MP4's container."""
    size: int
    """Bytes of the MP4."""
    width: int
    height: int
    poc_count: int
    """POCs of the period (shown or summed up in the "and N more" card)."""


def select_pocs(rows: Iterable[PocRow], period: Period) -> list[PocRow]:
    """The rows created within `period`, most recent first (ties by id, so the order is stable)."""
    chosen = [row for row in rows if period.contains(row.created_at)]
    chosen.sort(key=lambda row: (row.created_at, row.id), reverse=True)
    return chosen
