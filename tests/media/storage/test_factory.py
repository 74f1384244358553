"""`POCDOJO_MEDIA_STORE` picks the store; a missing setting is named."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from deploy.local import EmbeddedEnvironment
from media.storage.factory import create_store, download_router_for
from media.storage.local import LocalStore
from media.storage.s3 import S3Store
from runtime.settings import Settings
from tests.conftest import serve_app
from tests.media.conftest import MotoS3
from tests.media.storage.conftest import MakeFile, media_files_app


def test_local_is_the_default_under_the_state_dir(tmp_path: Path) -> None:
    store = create_store(Settings(state_dir=tmp_path, media_url_secret=secrets.token_urlsafe(32)))
    assert isinstance(store, LocalStore)
    assert store.root == (tmp_path / "objects").resolve()
    assert download_router_for(store) is not None


def test_local_needs_the_url_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="POCDOJO_MEDIA_URL_SECRET"):
        create_store(Settings(state_dir=tmp_path))
    with pytest.raises(ValueError, match="at least 32 bytes"):
        create_store(Settings(state_dir=tmp_path, media_url_secret="short"))


def test_s3_needs_a_bucket() -> None:
    with pytest.raises(ValueError, match="POCDOJO_MEDIA_S3_BUCKET"):
        create_store(Settings(media_store="s3"))


async def test_s3_from_settings_uses_the_default_credential_chain(
    moto_s3: MotoS3, make_file: MakeFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    bucket = moto_s3.new_bucket()
    settings = Settings.from_env(
        media_store="s3",
        media_s3_bucket=bucket,
        media_s3_region="us-east-1",
        media_s3_endpoint_url=moto_s3.endpoint_url,
    )
    store = create_store(settings)
    try:
        assert isinstance(store, S3Store)
        assert download_router_for(store) is None
        await store.check()
        await store.put_file("reports/a/b/c.csv", make_file(b"x"), content_type="text/csv")
        assert await store.exists("reports/a/b/c.csv")
    finally:
        await store.close()


async def test_the_dev_secret_is_kept_in_the_state_dir(tmp_path: Path, make_file: MakeFile) -> None:
    """Two `pocdojo dev` processes on one state dir (a restart, or `--nodes`) sign links alike."""
    secret = EmbeddedEnvironment(tmp_path).media_url_secret()
    assert secret == EmbeddedEnvironment(tmp_path).media_url_secret()
    assert (tmp_path / "media-url-secret").stat().st_mode & 0o077 == 0
    first = create_store(Settings(state_dir=tmp_path, media_url_secret=secret))
    await first.put_file("reports/a/b/c.csv", make_file(b"a,b\n"), content_type="text/csv")
    url = await first.signed_url("reports/a/b/c.csv", filename="c.csv", content_type="text/csv", expires_in=60)
    path = url.removeprefix("http://127.0.0.1:8000")

    def restarted(base: str) -> object:
        store = create_store(
            Settings(state_dir=tmp_path, media_url_secret=EmbeddedEnvironment(tmp_path).media_url_secret())
        )
        assert isinstance(store, LocalStore)
        return media_files_app(store)

    async with serve_app(restarted) as base, httpx.AsyncClient() as client:
        response = await client.get(base + path)
    assert response.status_code == 200
    assert response.content == b"a,b\n"
