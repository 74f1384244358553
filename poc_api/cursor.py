"""Opaque keyset cursors for `GET /v1/pocs`.

A cursor is base64url (no padding) of a compact JSON array `[version, sort, fingerprint, *key]`:
the sort it was made for, a fingerprint of the search it belongs to (so that a cursor replayed with
other filters is refused instead of silently skipping rows), and the sort key of the last row served.
The next page starts strictly after that key, so rows inserted meanwhile never shift a page: each
existing row is served exactly once while paging, whatever is written concurrently.

Keys per sort: `created_at`/`-created_at` → (microseconds since the epoch, id); `name`/`-name` →
(folded name, id); `relevance` → (integer score, microseconds, id). Scores are integers, so equality
on the boundary is exact. Cursors are not signed: a forged one only moves the position within the
caller's own tenant (row-level security decides what any query can see), and every value is checked
for type and range before it reaches SQL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from runtime.errors import FieldError, ValidationFailed

VERSION = 1
MAX_CURSOR_LENGTH = 512
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# PostgreSQL's timestamptz covers more, Python's datetime covers years 1-9999.
_MIN_US = -62_135_596_800_000_000
_MAX_US = 253_402_300_799_999_999
_MAX_SCORE = 1_000_000


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch (exact for datetimes)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The datetime `to_micros` came from."""
    return _EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True)
class Position:
    """Where the next page starts: after the row with this sort key."""

    sort: str
    key: tuple[int | str | uuid.UUID | datetime, ...]


def fingerprint(parts: tuple[object, ...]) -> str:
    """A short digest of the search parameters a cursor belongs to."""
    return hashlib.blake2b(orjson.dumps(parts, default=str), digest_size=6).hexdigest()


def encode(sort: str, print_: str, key: tuple[int | str | uuid.UUID, ...]) -> str:
    """The opaque cursor for a position after `key`, bound to a sort and a search fingerprint."""
    payload = [VERSION, sort, print_, *(str(k) if isinstance(k, uuid.UUID) else k for k in key)]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode("ascii")


def _invalid(message: str = "is not a cursor returned by this API; start again without a cursor") -> ValidationFailed:
    return ValidationFailed([FieldError("cursor", "invalid_cursor", message)])


def decode(cursor: str, sort: str, print_: str) -> Position:
    """The position a cursor encodes, checked against the current search; 422 otherwise."""
    if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise _invalid()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise _invalid() from exc
    if not isinstance(payload, list) or len(payload) < 4 or payload[0] != VERSION:
        raise _invalid()
    _, cursor_sort, cursor_print, *values = payload
    if cursor_sort != sort or cursor_print != print_:
        raise ValidationFailed(
            [
                FieldError(
                    "cursor",
                    "cursor_mismatch",
                    "belongs to another search: repeat the same q, filters and sort, or start without a cursor",
                )
            ]
        )
    try:
        return Position(sort, _key(sort, values))
    except (TypeError, ValueError, OverflowError) as exc:
        raise _invalid() from exc


def _micros(value: object) -> datetime:
    if type(value) is not int or not _MIN_US <= value <= _MAX_US:
        raise ValueError("timestamp out of range")
    return from_micros(value)


def _id(value: object) -> uuid.UUID:
    if not isinstance(value, str):
        raise TypeError("id must be a string")
    return uuid.UUID(value)


def _key(sort: str, values: list[object]) -> tuple[int | str | uuid.UUID | datetime, ...]:
    if sort in ("created_at", "-created_at") and len(values) == 2:
        return (_micros(values[0]), _id(values[1]))
    if sort in ("name", "-name") and len(values) == 2:
        name = values[0]
        if not isinstance(name, str) or len(name) > 1000 or "\x00" in name:
            raise ValueError("bad name key")
        name.encode("utf-8")  # lone surrogates raise UnicodeEncodeError (a ValueError)
        return (name, _id(values[1]))
    if sort == "relevance" and len(values) == 3:
        score = values[0]
        if type(score) is not int or not 0 <= score <= _MAX_SCORE:
            raise ValueError("bad score")
        return (score, _micros(values[1]), _id(values[2]))
    raise ValueError("the key does not fit the sort")
