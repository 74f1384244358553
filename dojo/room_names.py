"""Room names: one spelling per document.

A room name is 1-128 letters, digits, `.`, `_`, `:` or `-`, and names a document of the caller's
tenant exactly as written (case-sensitive). A dojo's room is its id in the canonical UUID form —
lower-case hex with hyphens, as the API returns it. Python's `uuid.UUID` also reads upper case,
`urn:uuid:` and `uuid:` prefixes, braces and missing or moved hyphens: each of those spellings passed
the dojo's authorization but, used as a document key, opened a second document that moderation did
not follow. So a name that *reads* as a UUID must be written canonically, or it is refused —
never mapped: every entry point (both websockets, the document API, tickets, the dojo routes) calls
`canonical_room` or `parse_dojo_id`.
"""

from __future__ import annotations

import re
import uuid

ROOM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class RoomNameError(ValueError):
    """A room name that is malformed, or a non-canonical spelling of a UUID."""


def parse_dojo_id(name: str) -> uuid.UUID | None:
    """The UUID `name` spells canonically; None if it does not read as a UUID (a plain room name);
    `RoomNameError` if it is another spelling of one."""
    try:
        parsed = uuid.UUID(name)
    except ValueError:
        return None
    if str(parsed) != name:
        raise RoomNameError(f"a dojo id is written in lower case with hyphens: {str(parsed)!r}, not {name!r}")
    return parsed


def canonical_room(name: str) -> str:
    """`name` if it is a valid room name in its only spelling, else `RoomNameError` saying why."""
    if not ROOM_RE.match(name):
        raise RoomNameError("room names are 1-128 letters, digits, '.', '_', ':' or '-'")
    parse_dojo_id(name)
    return name
