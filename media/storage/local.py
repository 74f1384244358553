"""The local object store: files under a root directory (the embedded default, `<state dir>/objects`).

`put_file` copies into a hidden temporary file next to the target, fsyncs it, then `os.replace`s it over
the key and fsyncs the directory: a reader sees the old object or the new one, never a partial file, and
a crash leaves at most a stray temporary file. Downloads go through the media service's
`GET /v1/media/files/{token}` (`media.storage.download`), the token signed by `UrlSigner`. All file I/O
runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from pathlib import Path

from media.errors import StorageError, StorageUnavailable
from media.storage.keys import check_key
from media.storage.signing import UrlSigner, check_expires_in

_COPY_CHUNK = 1024 * 1024


class LocalStore:
    """`ObjectStore` over a directory: the object `a/b.pdf` is the file `<root>/a/b.pdf`."""

    def __init__(self, root: Path, url_signer: UrlSigner) -> None:
        self.root = root.resolve()
        self.signer = url_signer

    def path_for(self, key: str) -> Path:
        """The file holding `key` (which may not exist); `StorageError` for an invalid key."""
        return self.root.joinpath(*check_key(key).split("/"))

    async def put_file(self, key: str, path: Path, *, content_type: str) -> int:
        target = self.path_for(key)
        return await asyncio.to_thread(self._put, target, path)

    def _put(self, target: Path, source: Path) -> int:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise StorageError(f"the object key clashes with another object's path: {exc.strerror}") from exc
        except OSError as exc:
            raise StorageUnavailable(f"the object directory cannot be created: {exc.strerror}") from exc
        try:
            src = source.open("rb")
        except OSError as exc:
            raise StorageError(f"the file to store cannot be read: {exc.strerror}") from exc
        temp = target.parent / f".{target.name}.{secrets.token_hex(8)}.tmp"
        try:
            with src, temp.open("xb") as dst:
                shutil.copyfileobj(src, dst, _COPY_CHUNK)
                dst.flush()
                os.fsync(dst.fileno())
                size = dst.tell()
            os.replace(temp, target)
        except (IsADirectoryError, NotADirectoryError) as exc:
            temp.unlink(missing_ok=True)
            raise StorageError(f"the object key clashes with another object's path: {exc.strerror}") from exc
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise StorageUnavailable(f"the object could not be written: {exc.strerror}") from exc
        _fsync_dir(target.parent)
        return size

    async def delete(self, key: str) -> None:
        target = self.path_for(key)
        await asyncio.to_thread(self._delete, target)

    @staticmethod
    def _delete(target: Path) -> None:
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"the object could not be deleted: {exc.strerror}") from exc

    async def exists(self, key: str) -> bool:
        target = self.path_for(key)
        return await asyncio.to_thread(target.is_file)

    async def signed_url(self, key: str, *, filename: str, content_type: str, expires_in: int) -> str:
        check_key(key)
        check_expires_in(expires_in)
        token = self.signer.sign(key, filename=filename, content_type=content_type, expires_in=expires_in)
        return self.signer.url(token)

    async def check(self) -> None:
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"the object directory {self.root} cannot be created: {exc.strerror}") from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StorageUnavailable(f"the object directory {self.root} is not writable")

    async def close(self) -> None:
        return None


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (POSIX: the directory entry lives in the directory)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
