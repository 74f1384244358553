"""Request and response shapes of `/v1/videos`, as the OpenAPI document shows them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

FIRST_YEAR = 2000
PERIOD_TIMEZONE = "America/Sao_Paulo"
"""Where a calendar year starts and ends, and which year is the current one."""

PeriodIn = Literal["last-12-months"] | Annotated[int, Field(ge=FIRST_YEAR)]
Kind = Literal["year-in-review", "dojo-replay"]
DEFAULT_SPEED = 8.0
MIN_SPEED, MAX_SPEED = 1.0, 64.0

_EXAMPLE_VIDEO: dict[str, Any] = {
    "id": "2b7c0a4e-3f7d-4c1a-9f55-6a0e8d3c2b11",
    "user_id": "5d2c9d3e-8a51-4b43-9c8e-1f0a7e6b4d21",
    "kind": "year-in-review",
    "dojo_id": None,
    "speed": None,
    "status": "running",
    "stage": "rendering",
    "progress": 57,
    "error": None,
    "period": "last-12-months",
    "period_start": "2025-12-05T12:00:00Z",
    "period_end": "2026-12-05T12:00:00Z",
    "resolution": "720p",
    "locale": "pt-BR",
    "poc_count": 12,
    "duration_seconds": None,
    "size_bytes": None,
    "created_at": "2026-12-05T12:00:00Z",
    "started_at": "2026-12-05T12:00:00.050000Z",
    "finished_at": None,
    "download_url": None,
    "thumbnail_url": None,
    "captions_url": None,
}


def current_year() -> int:
    return datetime.now(ZoneInfo(PERIOD_TIMEZONE)).year


class VideoCreate(BaseModel):
    """A year-in-review video of the caller's own POCs created in the period (`kind` absent or
    `year-in-review`), or a time-lapse of a dojo the caller may replay (`kind: dojo-replay`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"period": 2025, "resolution": "720p", "locale": "pt-BR"},
                {
                    "kind": "dojo-replay",
                    "dojo_id": "0c8a1e52-6a3f-4a59-9a1f-5b8e2f7d9c10",
                    "speed": 8,
                    "resolution": "720p",
                    "locale": "pt-BR",
                },
            ]
        },
    )
    kind: Kind = Field(default="year-in-review", description="Which video: the year in review, or a dojo replay.")
    period: PeriodIn | None = Field(
        default="last-12-months",
        description='Year videos: `"last-12-months"` (the default, up to now) or a calendar year (an integer from '
        "2000 to the current year; January 1st to January 1st, São Paulo time). Not for a dojo replay.",
    )
    dojo_id: uuid.UUID | None = Field(
        default=None,
        validate_default=True,
        description="Dojo replays (required): the dojo, one the caller took part in (or any of the tenant's for "
        "an admin) whose history the tenant keeps.",
    )
    speed: Annotated[float, Field(strict=True, ge=MIN_SPEED, le=MAX_SPEED)] | None = Field(
        default=None,
        validate_default=True,
        description="Dojo replays: how many times faster than it happened the typing plays (1-64, default 8); "
        "idle stretches play in 1 s and no video lasts more than 3 minutes.",
    )
    resolution: Literal["720p", "1080p"] = Field(description="`720p` (1280×720) or `1080p` (1920×1080).")
    locale: Literal["pt-BR", "en"] = Field(description="Language of the cards, dates and captions.")

    @field_validator("period", mode="wrap")
    @classmethod
    def _period(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        """One clear error on `period` (not one per member of the union, so `handler` is not called); a year is
        a JSON integer (not a string, a float or a boolean). Only year videos have one (default: the last
        twelve months)."""
        if info.data.get("kind") == "dojo-replay":  # called only when sent: the default is not validated
            raise ValueError("a dojo replay has no period")
        if value == "last-12-months":
            return value
        if type(value) is int:
            latest = current_year()
            if FIRST_YEAR <= value <= latest:
                return value
            raise ValueError(f"a calendar year must be from {FIRST_YEAR} to {latest}")
        raise ValueError('must be "last-12-months" or a calendar year (an integer, e.g. 2025)')

    @field_validator("dojo_id", mode="after")
    @classmethod
    def _dojo_id(cls, value: uuid.UUID | None, info: ValidationInfo) -> uuid.UUID | None:
        if "kind" not in info.data:  # `kind` is invalid: its own error says so
            return value
        replay = info.data.get("kind") == "dojo-replay"
        if replay and value is None:
            raise ValueError("a dojo replay needs the dojo's id")
        if not replay and value is not None:
            raise ValueError('only a dojo replay (`kind: "dojo-replay"`) is of a dojo')
        return value

    @field_validator("speed", mode="after")
    @classmethod
    def _speed(cls, value: float | None, info: ValidationInfo) -> float | None:
        if "kind" not in info.data:
            return value
        if info.data.get("kind") != "dojo-replay":
            if value is not None:
                raise ValueError('only a dojo replay (`kind: "dojo-replay"`) has a speed')
            return None
        return DEFAULT_SPEED if value is None else value

    @model_validator(mode="after")
    def _replay_has_no_period(self) -> VideoCreate:
        if self.kind == "dojo-replay":
            self.period = None
        return self


class Video(BaseModel):
    """A video and its job: `status` queued → running → done | failed | cancelled; while running, `stage`
    (queued, reading, rendering, uploading, done) and `progress` (0-100; while rendering, ffmpeg's own)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_VIDEO]})
    id: str
    user_id: str = Field(description="Whose video it is (who asked for it).")
    kind: Kind
    dojo_id: str | None = Field(description="Dojo replays: the dojo replayed.")
    speed: float | None = Field(description="Dojo replays: the speed asked for (the 3-minute cap may play faster).")
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    stage: Literal["queued", "reading", "rendering", "uploading", "done"]
    progress: int = Field(ge=0, le=100)
    error: str | None = Field(description="Why it failed (or why it is being retried), in words.")
    period: PeriodIn | None = Field(description="Year videos; null for a dojo replay.")
    period_start: str | None = Field(json_schema_extra={"format": "date-time"}, description="Inclusive.")
    period_end: str | None = Field(json_schema_extra={"format": "date-time"}, description="Exclusive.")
    resolution: Literal["720p", "1080p"]
    locale: Literal["pt-BR", "en"]
    poc_count: int | None = Field(description="The caller's POCs of the period (known once the search was frozen).")
    duration_seconds: float | None = Field(
        description="The MP4's duration once done (a year video at most 60 s, a dojo replay at most 180 s)."
    )
    size_bytes: int | None = Field(description="The MP4's size once done.")
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    started_at: str | None = Field(json_schema_extra={"format": "date-time"})
    finished_at: str | None = Field(json_schema_extra={"format": "date-time"})
    download_url: str | None = Field(description="Once done: the API path that redirects to the MP4.")
    thumbnail_url: str | None = Field(description="Once done: the API path that redirects to the JPEG.")
    captions_url: str | None = Field(description="Once done: the API path that redirects to the WebVTT captions.")


class VideoPage(BaseModel):
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""

    items: list[Video]
    next_cursor: str | None = Field(description="Opaque; null on the last page.")
