"""The POC service's settings: the change-event outbox relay and the exports of a search."""

from __future__ import annotations

from pydantic import Field

from runtime.settings.base import SharedSettings

__all__ = ["PocSettings"]


class PocSettings(SharedSettings):
    """The POC service: the change-event outbox relay and the exports reports are made from."""

    # -- POC change events (outbox relay) -----------------------------------------------------------
    poc_events_stream: str = Field(default="pocdojo:poc-events", min_length=1, max_length=200)
    """The Redis Stream the POC service's outbox relay publishes change events to (the relay runs when
    REDIS_URL is set)."""
    poc_events_stream_maxlen: int = Field(default=1_000_000, ge=1000)
    """Events kept in that stream (approximate trimming); the outbox keeps every event in PostgreSQL."""
    poc_events_batch: int = Field(default=200, ge=1, le=1000)
    """Events per relay transaction."""
    poc_events_poll_seconds: float = Field(default=0.2, gt=0, le=10)
    """How often the relay looks for new events when the last look found none."""

    # -- POC exports (the frozen search a report is made from) ------------------------------------
    poc_export_ttl_seconds: int = Field(default=86_400, ge=60, le=7 * 86_400)
    """How long an export of a search lives (`POST /v1/pocs/exports`); expired ones are 404 and purged."""
    poc_export_max_rows: int = Field(default=200_000, ge=1, le=10_000_000)
    """POCs one export may hold; a search matching more is refused (422 on `filters`)."""
    poc_export_max_live_per_user: int = Field(default=10, ge=1, le=1000)
    """Unexpired exports one user may hold at once (429 with Retry-After above)."""
