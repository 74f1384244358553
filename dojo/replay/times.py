"""Instants in the replay API: RFC 3339 UTC with milliseconds, or `+<ms>` since the dojo started."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runtime.errors import FieldError, ValidationFailed

__all__ = ["format_at", "ms_since", "parse_instant"]

_MAX_MS = 10**12  # ~31 years: beyond any dojo, and far from datetime's limits


def format_at(at: datetime) -> str:
    """`2026-12-06T03:10:00.123Z`."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ms_since(start: datetime, at: datetime) -> int:
    return (at - start) // timedelta(milliseconds=1)


def parse_instant(value: str, field: str, started_at: datetime) -> datetime:
    """The instant `value` names; 422 on `field` if it is neither form or is before `started_at`.

    A `+` in a query string decodes to a space, so ` 90500` is read as `+90500` too."""
    text = value.strip() if value[:1] == " " and value.strip().isdigit() else value
    if value[:1] in ("+", " "):
        digits = text.lstrip("+")
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 13 or int(digits) > _MAX_MS:
            raise ValidationFailed([FieldError(field, "invalid", "`+` is followed by milliseconds since the start.")])
        return started_at + timedelta(milliseconds=int(digits))
    try:
        at = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(
            [FieldError(field, "invalid", "An RFC 3339 time (2026-12-06T03:10:00.123Z) or +<ms since the start>.")]
        ) from exc
    if at.tzinfo is None:
        raise ValidationFailed([FieldError(field, "invalid", "The time needs a UTC offset (e.g. Z).")])
    if at < started_at:
        raise ValidationFailed([FieldError(field, "before_start", f"The dojo started at {format_at(started_at)}.")])
    return at
