"""`GET`/`HEAD /v1/media/files/{token}`: the local store's downloads, served by the media service.

The signed token is the credential (no bearer token: a browser or a mail client follows the link): it
names one object, the filename and content type to serve it with, and its expiry. A forged, altered or
expired token gets 403, a token for an object deleted since gets 404. One byte range (`Range: bytes=...`)
gets 206; several ranges, another unit or a malformed header get the whole file (RFC 9110 §14.2 lets a
server ignore them); a range past the end gets 416. The file is opened once, so a download that started
before the object was replaced finishes with the version it started with.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from typing import Any, BinaryIO
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from media.errors import StorageError
from media.storage.local import LocalStore
from media.storage.signing import TokenError, TokenExpired
from runtime.errors import Forbidden, NotFound, ServiceError

PATH = "/v1/media/files/{token}"
CHUNK_BYTES = 64 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]")


class RangeNotSatisfiable(ServiceError):
    status = 416
    slug = "range-not-satisfiable"


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


_BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
_DESCRIPTION = (
    "Downloads the file a signed link names (a finished report). **No bearer token**: the signed token in "
    "the path is the credential, valid for the one file and for at most 15 minutes; the media API hands it "
    "out with a finished report. Served as an attachment (`Content-Disposition`), never cached "
    "(`Cache-Control: private, no-store`). `Range: bytes=first-last` (one range) resumes a download: 206 "
    "with `Content-Range`; a range past the end: 416."
)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The whole file.", "content": _BINARY},
    206: {"description": "The byte range asked for (`Content-Range`).", "content": _BINARY},
    403: _problem("The link is forged, altered or expired (ask the media API for a new one)."),
    404: _problem("The file is gone (the report was deleted or has expired)."),
    416: _problem("The range lies past the end of the file (`Content-Range: bytes */size`)."),
}


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range `(first, last)` asked for, or None for the whole file; raises
    `RangeNotSatisfiable` when the one range asked for lies wholly past the end."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None  # another unit, several ranges or a malformed header: serve the whole file
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # a suffix: the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - suffix), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None  # invalid: ignored like any malformed range
    if first >= size:
        raise _unsatisfiable(size)
    last = int(last_text) if last_text else size - 1
    return first, min(last, size - 1)


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"The range lies past the end of the file ({size} bytes).", headers={"Content-Range": f"bytes */{size}"}
    )


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact name in RFC 8187 form (`filename*`)."""
    fallback = _FALLBACK_UNSAFE.sub("_", filename) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class FileResponse(StreamingResponse):
    """`length` bytes of an open file from `first`, read in chunks in a worker thread; the file is closed
    when the response ends, however it ends (finished, client gone, cancelled)."""

    def __init__(
        self, handle: BinaryIO, first: int, length: int, *, status_code: int, headers: dict[str, str], media_type: str
    ) -> None:
        self._handle = handle
        super().__init__(self._chunks(first, length), status_code=status_code, headers=headers, media_type=media_type)

    async def _chunks(self, first: int, length: int) -> AsyncIterator[bytes]:
        await asyncio.to_thread(self._handle.seek, first)
        left = length
        while left > 0:
            chunk = await asyncio.to_thread(self._handle.read, min(CHUNK_BYTES, left))
            if not chunk:
                raise StorageError("the file ended before its announced size")
            left -= len(chunk)
            yield chunk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._handle.close()


def _open(store: LocalStore, key: str) -> tuple[BinaryIO, int]:
    handle = store.path_for(key).open("rb")
    try:
        return handle, os.fstat(handle.fileno()).st_size
    except BaseException:
        handle.close()
        raise


def download_router(store: LocalStore) -> APIRouter:
    """The route the media app includes when its store is local."""
    router = APIRouter(tags=["files"])

    async def download_file(token: str, request: Request) -> Response:
        try:
            grant = store.signer.verify(token)
        except TokenExpired as exc:
            raise Forbidden("This download link has expired; ask for a new one.") from exc
        except TokenError as exc:
            raise Forbidden("This download link is not valid.") from exc
        try:
            handle, size = await asyncio.to_thread(_open, store, grant.key)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NotFound("The file is gone.") from exc
        headers = {
            "Content-Disposition": content_disposition(grant.filename),
            "Accept-Ranges": "bytes",
            "Cache-Control": "private, no-store",
        }
        try:
            wanted = parse_range(request.headers.get("range"), size)
        except RangeNotSatisfiable:
            await asyncio.to_thread(handle.close)
            raise
        status = 200
        first, last = 0, size - 1
        if wanted is not None:
            status = 206
            first, last = wanted
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        length = last - first + 1
        headers["Content-Length"] = str(length)
        if request.method == "HEAD":
            await asyncio.to_thread(handle.close)
            return Response(status_code=status, headers=headers, media_type=grant.content_type)
        return FileResponse(handle, first, length, status_code=status, headers=headers, media_type=grant.content_type)

    for method, operation_id, summary in (
        ("GET", "downloadFile", "Download a file through a signed link"),
        ("HEAD", "downloadFileHead", "The headers of a signed link's download (size, type), no body"),
    ):
        router.add_api_route(
            PATH,
            download_file,
            methods=[method],
            operation_id=operation_id,
            summary=summary,
            description=_DESCRIPTION,
            response_class=Response,
            responses=_RESPONSES,
        )
    return router
