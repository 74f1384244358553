"""What only the local store does: files under its root, atomic replacement, no stray files."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from media.errors import StorageError, StorageUnavailable
from media.storage.local import LocalStore
from media.storage.signing import UrlSigner
from tests.media.storage.conftest import MakeFile

KEY = "reports/t-1/u-1/r-1.csv"


async def test_objects_are_files_under_the_root(local_store: LocalStore, make_file: MakeFile) -> None:
    await local_store.put_file(KEY, make_file(b"a,b\n"), content_type="text/csv")
    target = local_store.root / "reports" / "t-1" / "u-1" / "r-1.csv"
    assert target.read_bytes() == b"a,b\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["r-1.csv"]  # no temporary file left


async def test_replace_is_atomic_by_rename(local_store: LocalStore, make_file: MakeFile) -> None:
    await local_store.put_file(KEY, make_file(b"old"), content_type="text/csv")
    target = local_store.path_for(KEY)
    reader = target.open("rb")  # a download in progress keeps reading the old version
    try:
        await local_store.put_file(KEY, make_file(b"new content"), content_type="text/csv")
        assert reader.read() == b"old"
    finally:
        reader.close()
    assert target.read_bytes() == b"new content"
    assert sorted(p.name for p in target.parent.iterdir()) == ["r-1.csv"]


async def test_an_unreadable_source_keeps_the_previous_version(
    local_store: LocalStore, make_file: MakeFile, tmp_path: Path
) -> None:
    await local_store.put_file(KEY, make_file(b"old"), content_type="text/csv")
    a_directory = tmp_path / "a-directory"
    a_directory.mkdir()
    with pytest.raises(StorageError, match="cannot be read"):
        await local_store.put_file(KEY, a_directory, content_type="text/csv")
    target = local_store.path_for(KEY)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["r-1.csv"]


async def test_a_write_failure_keeps_the_previous_version_and_no_temporary_file(
    local_store: LocalStore, make_file: MakeFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    await local_store.put_file(KEY, make_file(b"old"), content_type="text/csv")
    source = make_file(b"new")

    def disk_error(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", disk_error)
    with pytest.raises(StorageUnavailable, match="could not be written"):
        await local_store.put_file(KEY, source, content_type="text/csv")
    monkeypatch.undo()
    target = local_store.path_for(KEY)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["r-1.csv"]


async def test_check_fails_when_the_root_cannot_exist(tmp_path: Path, signer: UrlSigner) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    with pytest.raises(StorageUnavailable, match="cannot be created"):
        await LocalStore(blocker / "objects", signer).check()


async def test_signed_url_points_at_the_download_endpoint(local_store: LocalStore) -> None:
    url = await local_store.signed_url(KEY, filename="r.csv", content_type="text/csv", expires_in=60)
    prefix = "http://127.0.0.1:1/v1/media/files/"
    assert url.startswith(prefix)
    grant = local_store.signer.verify(url.removeprefix(prefix))
    assert (grant.key, grant.filename, grant.content_type) == (KEY, "r.csv", "text/csv")


async def test_a_key_clashing_with_another_objects_path_is_refused(
    local_store: LocalStore, make_file: MakeFile
) -> None:
    """S3 keys are flat, files nest: `a/b` and `a/b/c` cannot both be files. A refusal, not an outage."""
    await local_store.put_file("reports/a/b", make_file(b"file"), content_type="text/csv")
    await local_store.put_file("reports/x/y/z", make_file(b"file"), content_type="text/csv")
    for key in ("reports/a/b/c", "reports/x/y"):
        with pytest.raises(StorageError, match="clashes") as raised:
            await local_store.put_file(key, make_file(b"other"), content_type="text/csv")
        assert not isinstance(raised.value, StorageUnavailable)
    assert local_store.path_for("reports/a/b").read_bytes() == b"file"
    assert sorted(p.name for p in local_store.path_for("reports/x/y").iterdir()) == ["z"]
