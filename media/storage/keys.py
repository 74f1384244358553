"""Object keys: the one shape every store accepts.

A key is `/`-separated segments of `[A-Za-z0-9_-]` and dots, e.g. `reports/{tenant}/{user}/{id}.pdf`:
no empty segment, no segment starting with a dot (so no `.`, `..` nor hidden files, which the local
store uses for its temporary files), no leading `/`, at most 512 characters. The same rule for every
store, so a key that works locally works on S3.
"""

from __future__ import annotations

import re

from media.errors import StorageError

MAX_KEY_LENGTH = 512
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def check_key(key: str) -> str:
    """Return `key` if it is valid; raise `StorageError` naming the problem otherwise."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise StorageError(f"an object key has 1 to {MAX_KEY_LENGTH} characters")
    for segment in key.split("/"):
        if not _SEGMENT.fullmatch(segment):
            raise StorageError(
                f"invalid object key {key!r}: segments are letters, digits, '_', '-' and '.', "
                "not empty and not starting with '.'"
            )
    return key
