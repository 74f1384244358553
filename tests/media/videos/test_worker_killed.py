"""A worker killed with SIGKILL while ffmpeg encodes a video: another worker notices its missing heartbeat,
takes the job over and completes it exactly once (three objects, one `done` transition, the job succeeded
once); the killed encode left no object."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

from tests.conftest import wait_until
from tests.media.jobs.conftest import MediaHarness, worker
from tests.media.jobs.test_worker_killed import worker_environment
from tests.media.videos.conftest import catalogue, create, follow, get, job_events, object_paths


def ffmpeg_children(pid: int) -> list[int]:
    """The ffmpeg processes `pid` started (its children whose command is the imageio-ffmpeg binary)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if Path(f"/proc/{child}/comm").read_text().startswith("ffmpeg"):
                found.append(int(child))
    return found


def gone(pid: int) -> bool:
    """True once `pid` no longer runs (exited, or a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


async def test_a_worker_killed_mid_encode_is_completed_once_by_another(media: MediaHarness, tmp_path: Path) -> None:
    admin = await media.tenant()
    await catalogue(media, admin, 2)
    marker = tmp_path / "holding"
    scratch = tmp_path / "worker-tmp"  # the killed worker's scratch folders, kept for a look
    scratch.mkdir()
    process = subprocess.Popen(  # noqa: ASYNC220 - a child process the test kills
        [sys.executable, "-m", "tests.media.videos.worker_process", str(marker)],
        env={**worker_environment(media.settings), "TMPDIR": str(scratch)},
    )
    encoders: list[int] = []
    try:
        video = await create(media, admin)

        async def holding() -> bool:  # the worker writes the marker with write_text: created, then filled
            return marker.exists() and marker.read_text() != ""

        await wait_until(holding, within=60)
        assert marker.read_text() == video["id"]
        running = await get(media, admin, video["id"])
        assert (running["status"], running["stage"]) == ("running", "rendering")
        encoders = ffmpeg_children(process.pid)
        assert encoders, "the worker runs no ffmpeg: not killed mid-encode"
        os.kill(process.pid, signal.SIGKILL)
        await asyncio.to_thread(process.wait, 10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        # The orphaned encoder dies on its closed progress pipe; make sure of it (it is this test's).
        for pid in encoders:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
    assert not any(p.exists() for p in object_paths(media, admin, video["id"]).values())
    # What the killed encode left in its scratch folder is under temporary names only.
    left = [p.name for p in scratch.rglob("*") if p.is_file()]
    assert any(name.startswith(".video.mp4.") for name in left), left
    assert not {"video.mp4", "thumbnail.jpg", "captions.vtt"} & set(left), left
    async with worker(media.settings):
        done = await follow(media, admin, video["id"], "done", "failed")
    assert done["status"] == "done", done
    paths = object_paths(media, admin, video["id"])
    folder = paths["video"].parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in paths.values())  # nothing partial
    conn = await asyncpg.connect(media.database.admin)
    try:
        attempts = await conn.fetchval("SELECT attempts FROM media.videos WHERE id = $1", uuid.UUID(video["id"]))
    finally:
        await conn.close()
    assert attempts == 2  # the killed run and the one that completed
    assert await job_events(media, video["id"]) == ["deferred", "started", "deferred_for_retry", "started", "succeeded"]
