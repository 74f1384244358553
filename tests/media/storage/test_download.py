"""The local store's download endpoint, `GET`/`HEAD /v1/media/files/{token}`, served by uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from media.storage.download import RangeNotSatisfiable, content_disposition, parse_range
from media.storage.local import LocalStore
from tests.conftest import serve_app
from tests.media.storage.conftest import Clock, MakeFile, media_files_app, served_local_store

KEY = "reports/t-1/u-1/r-1.csv"
CONTENT = b"".join(b"%05d,row\n" % i for i in range(2000))


@pytest.fixture
async def local(tmp_path: Path, clock: Clock) -> AsyncIterator[LocalStore]:
    async with served_local_store(tmp_path / "objects", clock) as store:
        yield store


async def _url(store: LocalStore, make_file: MakeFile, filename: str = "pocs.csv") -> str:
    await store.put_file(KEY, make_file(CONTENT), content_type="text/csv; charset=utf-8")
    return await store.signed_url(KEY, filename=filename, content_type="text/csv; charset=utf-8", expires_in=300)


async def test_headers_of_a_download(local: LocalStore, make_file: MakeFile) -> None:
    url = await _url(local, make_file)
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == "attachment; filename=\"pocs.csv\"; filename*=UTF-8''pocs.csv"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["cache-control"] == "private, no-store"
    assert "transfer-encoding" not in response.headers


async def test_head_answers_the_headers_without_the_body(local: LocalStore, make_file: MakeFile) -> None:
    url = await _url(local, make_file)
    async with httpx.AsyncClient() as client:
        whole = await client.head(url)
        part = await client.head(url, headers={"Range": "bytes=0-9"})
    assert whole.status_code == 200
    assert whole.headers["content-length"] == str(len(CONTENT))
    assert whole.content == b""
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 0-9/{len(CONTENT)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-9", "items=0-9", "bytes=9-0", "bytes=-", "bytes=a-b"])
async def test_ranges_we_do_not_serve_get_the_whole_file(local: LocalStore, make_file: MakeFile, header: str) -> None:
    url = await _url(local, make_file)
    async with httpx.AsyncClient() as client:
        response = await client.get(url, headers={"Range": header})
    assert response.status_code == 200
    assert response.content == CONTENT


async def test_an_unsatisfiable_range_names_the_size(local: LocalStore, make_file: MakeFile) -> None:
    url = await _url(local, make_file)
    async with httpx.AsyncClient() as client:
        response = await client.get(url, headers={"Range": f"bytes={len(CONTENT)}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(CONTENT)}"
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("token", "status"), [("x", 403), ("a.b", 403), ("a.b.c", 403), ("." * 10, 403), ("A" * 5000, 403), ("%00", 422)]
)
async def test_garbage_tokens_are_refused(local: LocalStore, token: str, status: int) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(local.signer.base_url + "/v1/media/files/" + token)
    assert response.status_code == status  # 422: the NUL byte, refused before routing
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_token_of_another_secret_is_refused(local: LocalStore, make_file: MakeFile, tmp_path: Path) -> None:
    async with served_local_store(tmp_path / "other", Clock()) as other:
        await other.put_file(KEY, make_file(b"other"), content_type="text/csv")
        url = await other.signed_url(KEY, filename="a.csv", content_type="text/csv", expires_in=60)
    await local.put_file(KEY, make_file(CONTENT), content_type="text/csv")
    token = url.rsplit("/", 1)[1]
    async with httpx.AsyncClient() as client:
        response = await client.get(local.signer.url(token))
    assert response.status_code == 403


async def test_a_download_in_progress_survives_a_replacement(local: LocalStore, make_file: MakeFile) -> None:
    big = CONTENT * 40  # several chunks
    await local.put_file(KEY, make_file(big), content_type="text/csv")
    url = await local.signed_url(KEY, filename="a.csv", content_type="text/csv", expires_in=60)
    received = bytearray()
    async with httpx.AsyncClient() as client, client.stream("GET", url) as response:
        chunks = response.aiter_raw()
        received += await anext(chunks)
        await local.put_file(KEY, make_file(b"replaced"), content_type="text/csv")
        async for chunk in chunks:
            received += chunk
    assert bytes(received) == big


async def test_the_openapi_document_says_the_link_is_the_credential(local: LocalStore) -> None:
    async with serve_app(lambda base: media_files_app(local)) as base, httpx.AsyncClient() as client:
        document = (await client.get(f"{base}/openapi.json")).json()
    operation = document["paths"]["/v1/media/files/{token}"]["get"]
    assert "No bearer token" in operation["description"]
    assert "security" not in operation
    assert {"200", "206", "403", "404", "416"} <= set(operation["responses"])


def test_parse_range() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-0", 100) == (0, 0)
    assert parse_range("bytes=90-200", 100) == (90, 99)
    assert parse_range("bytes=-200", 100) == (0, 99)
    assert parse_range(" bytes=5- ", 100) == (5, 99)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=100-", 100)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-0", 100)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=0-", 0)


def test_content_disposition_keeps_the_exact_name_and_an_ascii_fallback() -> None:
    header = content_disposition('Relatório "final"; 100%.pdf')
    assert header == (
        'attachment; filename="Relat_rio _final__ 100_.pdf"; '
        "filename*=UTF-8''Relat%C3%B3rio%20%22final%22%3B%20100%25.pdf"
    )
