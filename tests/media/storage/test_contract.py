"""The `ObjectStore` contract, run against every store (see `store` in conftest.py)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from media.errors import StorageError
from media.storage.base import ObjectStore
from tests.media.storage.conftest import MakeFile, StoreCase

KEY = "reports/t-1/u-1/r-1.pdf"

BAD_KEYS = [
    "",
    "/reports/a.pdf",
    "reports/../secrets",
    "../a",
    "reports/./a",
    "reports//a.pdf",
    "reports/a.pdf/",
    "reports/.hidden",
    "reports/a b.pdf",
    "reports/a\\b.pdf",
    "reports/\u00e9.pdf",
    "reports/a\x00.pdf",
    "a" * 513,
]


async def test_put_replace_exists_delete(store: ObjectStore, make_file: MakeFile) -> None:
    assert not await store.exists(KEY)
    assert await store.put_file(KEY, make_file(b"first version"), content_type="application/pdf") == 13
    assert await store.exists(KEY)
    assert await store.put_file(KEY, make_file(b"second"), content_type="application/pdf") == 6
    assert await store.exists(KEY)
    assert not await store.exists("reports/t-1/u-1/other.pdf")
    await store.delete(KEY)
    assert not await store.exists(KEY)
    await store.delete(KEY)  # a missing key is not an error


async def test_empty_file(store: ObjectStore, make_file: MakeFile) -> None:
    assert await store.put_file(KEY, make_file(b""), content_type="text/csv") == 0
    assert await store.exists(KEY)


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_refused(store: ObjectStore, make_file: MakeFile, key: str) -> None:
    source = make_file(b"x")
    with pytest.raises(StorageError, match="key"):
        await store.put_file(key, source, content_type="application/pdf")
    with pytest.raises(StorageError, match="key"):
        await store.exists(key)
    with pytest.raises(StorageError, match="key"):
        await store.delete(key)
    with pytest.raises(StorageError, match="key"):
        await store.signed_url(key, filename="a.pdf", content_type="application/pdf", expires_in=60)


async def test_missing_source_file_is_a_storage_error(store: ObjectStore, make_file: MakeFile) -> None:
    gone = make_file(b"x")
    gone.unlink()
    with pytest.raises(StorageError):
        await store.put_file(KEY, gone, content_type="application/pdf")
    assert not await store.exists(KEY)


@pytest.mark.parametrize("expires_in", [0, -1, 901])
async def test_signed_url_lifetime_is_bounded(store: ObjectStore, expires_in: int) -> None:
    with pytest.raises(ValueError, match="900"):
        await store.signed_url(KEY, filename="a.pdf", content_type="application/pdf", expires_in=expires_in)


async def test_check_passes_on_a_working_store(store: ObjectStore) -> None:
    await store.check()


CONTENT = bytes(range(256)) * 40  # 10,240 bytes
NAME = "Relatório de POCs.pdf"


async def _signed(store: ObjectStore, make_file: MakeFile, expires_in: int = 60) -> str:
    await store.put_file(KEY, make_file(CONTENT), content_type="application/pdf")
    return await store.signed_url(KEY, filename=NAME, content_type="application/pdf", expires_in=expires_in)


async def test_signed_url_downloads_the_file(store: ObjectStore, make_file: MakeFile) -> None:
    url = await _signed(store, make_file)
    async with httpx.AsyncClient() as client:  # no credentials: the URL is the credential
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''Relat%C3%B3rio%20de%20POCs.pdf" in response.headers["content-disposition"]
    assert response.headers["content-length"] == str(len(CONTENT))


async def test_signed_url_serves_one_byte_range(store: ObjectStore, make_file: MakeFile) -> None:
    url = await _signed(store, make_file)
    async with httpx.AsyncClient() as client:
        middle = await client.get(url, headers={"Range": "bytes=100-1123"})
        tail = await client.get(url, headers={"Range": "bytes=-10"})
        open_ended = await client.get(url, headers={"Range": "bytes=10000-"})
        past_end = await client.get(url, headers={"Range": "bytes=20000-20100"})
    assert middle.status_code == 206
    assert middle.content == CONTENT[100:1124]
    assert middle.headers["content-range"] == f"bytes 100-1123/{len(CONTENT)}"
    assert tail.status_code == 206
    assert tail.content == CONTENT[-10:]
    assert open_ended.status_code == 206
    assert open_ended.content == CONTENT[10000:]
    assert past_end.status_code == 416


async def test_a_replaced_object_downloads_as_the_new_version(store: ObjectStore, make_file: MakeFile) -> None:
    url = await _signed(store, make_file)
    await store.put_file(KEY, make_file(b"replaced"), content_type="application/pdf")
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == b"replaced"


async def test_a_deleted_object_is_not_served(case: StoreCase, make_file: MakeFile) -> None:
    url = await _signed(case.store, make_file)
    await case.store.delete(KEY)
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    # S3 answers 404 only to a role that may list the bucket, 403 to one that may not (as moto does here).
    assert response.status_code == 404 if case.kind == "local" else response.status_code in (403, 404)
    assert CONTENT not in response.content


async def test_a_signed_url_expires(case: StoreCase, make_file: MakeFile) -> None:
    url = await _signed(case.store, make_file, expires_in=30)
    if case.kind == "s3":
        # moto does not enforce presigned URLs' expiry (AWS does): check what AWS enforces is signed in.
        query = parse_qs(urlsplit(url).query)
        assert query["X-Amz-Expires"] == ["30"]
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert "response-content-disposition" in query
        return
    async with httpx.AsyncClient() as client:
        case.clock.advance(29)
        assert (await client.get(url)).status_code == 200
        case.clock.advance(1)
        expired = await client.get(url)
    assert expired.status_code == 403
    assert expired.headers["content-type"] == "application/problem+json"
    assert "expired" in expired.json()["detail"]
    assert CONTENT not in expired.content


@pytest.mark.parametrize("part", ["claims", "signature"])
async def test_a_tampered_token_is_refused(case: StoreCase, make_file: MakeFile, part: str) -> None:
    if case.kind == "s3":
        pytest.skip("moto does not verify presigned URL signatures (AWS does); the local token's check is ours")
    url = await _signed(case.store, make_file)
    base, token = url.rsplit("/", 1)
    claims, mac = token.split(".")
    if part == "claims":  # another key, signed with the old MAC
        forged = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        forged["k"] = "reports/t-2/u-2/r-2.pdf"
        claims = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    else:
        mac = ("A" if mac[0] != "A" else "B") + mac[1:]
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{base}/{claims}.{mac}")
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "This download link is not valid."
