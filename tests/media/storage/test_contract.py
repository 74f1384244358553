"""The `ObjectStore` contract, run against every store (see `store` in conftest.py)."""

from __future__ import annotations

import pytest

from media.errors import StorageError
from media.storage.base import ObjectStore
from tests.media.storage.conftest import MakeFile

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
