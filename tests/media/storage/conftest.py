"""The stores under test: every contract test runs against each of them."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from media.storage.base import ObjectStore
from media.storage.local import LocalStore
from media.storage.signing import UrlSigner


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


@pytest.fixture(params=["local"])
async def store(request: pytest.FixtureRequest, local_store: LocalStore) -> AsyncIterator[ObjectStore]:
    chosen: ObjectStore = local_store
    try:
        yield chosen
    finally:
        await chosen.close()


MakeFile = Callable[..., Path]


@pytest.fixture
def make_file(tmp_path: Path) -> MakeFile:
    def make(content: bytes, name: str = "upload.bin") -> Path:
        path = tmp_path / "uploads" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        return path

    return make
