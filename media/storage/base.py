"""The object store's interface: the workers put finished files, the API hands out short-lived URLs.

Keys look like `reports/{tenant}/{user}/{report}.pdf`. An object is visible only once complete: a
worker killed during `put_file` leaves nothing (or the previous version) under the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class ObjectStore(Protocol):
    async def put_file(self, key: str, path: Path, *, content_type: str) -> int:
        """Store the file at `path` under `key` (replacing it); return its size in bytes.

        Raises `StorageUnavailable` when the store cannot be reached, `StorageError` when it refuses."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def signed_url(self, key: str, *, filename: str, content_type: str, expires_in: int) -> str:
        """A URL anyone holding it may GET (with HTTP Range) for `expires_in` seconds (≤ 900), served
        with `Content-Disposition: attachment; filename=...` and `content_type`."""
        ...

    async def check(self) -> None:
        """Raise `StorageUnavailable` unless the store answers (readiness)."""
        ...

    async def close(self) -> None: ...
