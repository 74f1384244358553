"""The stores under test: every contract test runs against each of them.

- `local`: a `LocalStore` in a temporary directory, its downloads served by the media download endpoint
  (`media.storage.download`) under uvicorn on 127.0.0.1; its signer reads a clock the test moves.
- `s3`: an `S3Store` on a fresh bucket of moto's standalone server (`moto_s3`, tests/media/conftest.py).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from fastapi import FastAPI

from media.storage.base import ObjectStore
from media.storage.download import download_router
from media.storage.local import LocalStore
from media.storage.s3 import S3Config, S3Store
from media.storage.signing import UrlSigner
from runtime.http import create_service_app
from runtime.settings import Settings
from tests.conftest import serve_app
from tests.media.conftest import MotoS3


class Clock:
    """A clock the test moves by hand (signed URLs expire without sleeping)."""

    def __init__(self, now: float = 1_900_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def signer(clock: Clock) -> UrlSigner:
    return UrlSigner(secrets.token_bytes(32), "http://127.0.0.1:1", clock=clock)


@pytest.fixture
def local_store(tmp_path: Path, signer: UrlSigner) -> LocalStore:
    return LocalStore(tmp_path / "objects", signer)


def media_files_app(store: LocalStore) -> FastAPI:
    """The download endpoint as the media app serves it (same error handling: problem+json)."""
    app = create_service_app(service="media", title="media files", settings=Settings(env="test"))
    app.include_router(download_router(store))
    return app


@dataclass
class StoreCase:
    """One store under test, and the clock its local signer reads."""

    kind: Literal["local", "s3"]
    store: ObjectStore
    clock: Clock


@asynccontextmanager
async def served_local_store(root: Path, clock: Clock) -> AsyncIterator[LocalStore]:
    """A local store whose signed URLs point at its download endpoint, served on a free port."""
    built: list[LocalStore] = []

    def factory(base: str) -> FastAPI:
        built.append(LocalStore(root, UrlSigner(secrets.token_bytes(32), base, clock=clock)))
        return media_files_app(built[0])

    async with serve_app(factory):
        try:
            yield built[0]
        finally:
            await built[0].close()


@asynccontextmanager
async def moto_store(moto_s3: MotoS3, **config: Any) -> AsyncIterator[S3Store]:
    """An S3 store on a fresh bucket of moto's server."""
    store = S3Store(
        S3Config(bucket=moto_s3.new_bucket(), endpoint_url=moto_s3.endpoint_url, **config), session=moto_s3.session()
    )
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(params=["local", "s3"])
async def case(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Clock, moto_s3: MotoS3
) -> AsyncIterator[StoreCase]:
    if request.param == "local":
        async with served_local_store(tmp_path / "objects", clock) as local:
            yield StoreCase("local", local, clock)
        return
    async with moto_store(moto_s3) as store:
        yield StoreCase("s3", store, clock)


@pytest.fixture
def store(case: StoreCase) -> ObjectStore:
    return case.store


MakeFile = Callable[..., Path]


@pytest.fixture
def make_file(tmp_path: Path) -> MakeFile:
    def make(content: bytes, name: str = "upload.bin") -> Path:
        path = tmp_path / "uploads" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        return path

    return make
