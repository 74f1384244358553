"""Videos end to end with the real worker and the real ffmpeg: asked for over HTTP, made by the job, the MP4
downloaded through its signed URL and probed with PyAV, seeked with HTTP Range, its thumbnail and captions;
progress taken from ffmpeg's; cancel of a running encode; deletion of the three files."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path

import av
import httpx
from PIL import Image

from media.repository import Stage
from tests.conftest import wait_until
from tests.media.jobs.conftest import MediaHarness, worker
from tests.media.videos.conftest import (
    ENCODING_FROM,
    catalogue,
    create,
    encoding,
    export_of,
    follow,
    get,
    job_status,
    object_paths,
)


class Recorder:
    """A progress hook that records every step a run writes."""

    def __init__(self) -> None:
        self.steps: list[tuple[Stage, int]] = []

    async def __call__(self, video_id: uuid.UUID, stage: Stage, value: int) -> None:
        self.steps.append((stage, value))


class HoldWhileEncoding:
    """A progress hook that holds a run at its first step while ffmpeg encodes, until released."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, video_id: uuid.UUID, stage: Stage, value: int) -> None:
        if encoding(stage, value) and not self.release.is_set():
            self.reached.set()
            await self.release.wait()


async def _follow(media: MediaHarness, url: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient() as anonymous:
        return await anonymous.get(url, headers=headers)


async def test_a_video_is_made_probed_seeked_and_deleted(media: MediaHarness, tmp_path: Path) -> None:
    admin = await media.tenant()
    await catalogue(media, admin, 2)
    recorder = Recorder()
    async with worker(media.settings, on_progress=recorder):
        video = await create(media, admin, {"period": "last-12-months", "resolution": "720p", "locale": "pt-BR"})
        assert (video["status"], video["poc_count"], video["download_url"]) == ("queued", 2, None)
        export_id, secret = await export_of(media, video["id"])
        assert secret is not None
        done = await follow(media, admin, video["id"], "done", "failed")
    assert done["status"] == "done", done
    assert (done["stage"], done["progress"], done["error"], done["poc_count"]) == ("done", 100, None, 2)
    assert await export_of(media, video["id"]) == (export_id, None)
    assert await media.export_items(export_id, secret) == 404  # the worker deleted the export
    # Progress rose step by step with ffmpeg's own output while it encoded.
    values = [value for _, value in recorder.steps]
    assert values == sorted(values), recorder.steps
    encoded = {value for stage, value in recorder.steps if encoding(stage, value)}
    assert len(encoded) >= 5 and min(encoded) >= ENCODING_FROM and max(encoded) <= 95, recorder.steps
    assert [stage for stage, _ in recorder.steps][-1] == "uploading"

    redirect = await media.http.get(done["download_url"], headers=admin.auth)
    assert redirect.status_code == 302
    whole = await _follow(media, redirect.headers["location"])
    assert whole.status_code == 200
    assert whole.headers["content-type"].startswith("video/mp4")
    assert len(whole.content) == done["size_bytes"]
    path = tmp_path / "video.mp4"
    path.write_bytes(whole.content)
    with av.open(str(path)) as container:
        assert container.duration is not None
        duration = container.duration / av.time_base
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.width, stream.codec_context.height) == (
            "h264",
            1280,
            720,
        )
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.average_rate == 30
        assert container.streams.audio[0].codec_context.name == "aac"
    assert abs(duration - done["duration_seconds"]) <= 0.5
    assert 5 <= duration <= 60

    # A player seeks: a range of the MP4 is a 206 with exactly those bytes.
    seek = await _follow(media, redirect.headers["location"], Range="bytes=1000-1999")
    assert seek.status_code == 206
    assert seek.headers["content-range"] == f"bytes 1000-1999/{done['size_bytes']}"
    assert seek.content == whole.content[1000:2000]

    thumbnail = await media.http.get(done["thumbnail_url"], headers=admin.auth)
    assert thumbnail.status_code == 302
    jpeg = await _follow(media, thumbnail.headers["location"])
    assert (jpeg.status_code, jpeg.headers["content-type"]) == (200, "image/jpeg")
    image = Image.open(io.BytesIO(jpeg.content))
    assert (image.format, image.size) == ("JPEG", (1280, 720))

    captions = await media.http.get(done["captions_url"], headers=admin.auth)
    assert captions.status_code == 302
    vtt = await _follow(media, captions.headers["location"])
    assert vtt.status_code == 200
    assert vtt.headers["content-type"].startswith("text/vtt")
    text = vtt.content.decode("utf-8")
    assert text.startswith("WEBVTT")
    assert "Integração São Paulo 0" in text and "Integração São Paulo 1" in text

    metrics = (await media.http.get("/metrics")).text
    for series in (
        'pocdojo_media_jobs_queued_total{kind="video"}',
        'pocdojo_media_jobs_succeeded_total{kind="video"}',
        'pocdojo_media_job_duration_seconds_count{kind="video",outcome="succeeded"}',
    ):
        assert f"{series} " in metrics, series

    # Deleting the finished video deletes its three files.
    files = object_paths(media, admin, done["id"])
    assert all(p.exists() for p in files.values())
    assert (await media.http.delete(f"/v1/videos/{done['id']}", headers=admin.auth)).status_code == 204
    assert not any(p.exists() for p in files.values())
    assert (await media.http.get(f"/v1/videos/{done['id']}", headers=admin.auth)).status_code == 404


async def test_cancel_of_a_running_encode_kills_it_and_stores_nothing(media: MediaHarness) -> None:
    admin = await media.tenant()
    await catalogue(media, admin, 2)
    hold = HoldWhileEncoding()
    async with worker(media.settings, on_progress=hold):
        video = await create(media, admin)
        await hold.reached.wait()
        held = await get(media, admin, video["id"])
        assert (held["status"], held["stage"]) == ("running", "rendering")
        assert held["progress"] >= ENCODING_FROM
        poll = asyncio.create_task(get(media, admin, video["id"], wait=25))
        await asyncio.sleep(0)  # let the long-poll reach the server before the change
        assert (await media.http.delete(f"/v1/videos/{video['id']}", headers=admin.auth)).status_code == 204

        async def answered() -> bool:
            return poll.done()

        await wait_until(answered, within=10)
        assert poll.result()["status"] == "cancelled"
        hold.release.set()

        async def job_finished() -> bool:
            return await job_status(media, video["id"]) == "succeeded"

        await wait_until(job_finished, within=20)
    final = await get(media, admin, video["id"])
    assert (final["status"], final["download_url"]) == ("cancelled", None)
    assert not any(p.exists() for p in object_paths(media, admin, video["id"]).values())
    assert not (media.objects / "videos").exists() or not any((media.objects / "videos").rglob("*.*"))


class HoldWhileReading:
    """A progress hook that holds a run at its first step (reading the POCs) for good."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()

    async def __call__(self, video_id: uuid.UUID, stage: Stage, value: int) -> None:
        if stage == "reading":
            self.reached.set()
            await asyncio.Event().wait()


async def test_a_video_over_its_time_limit_fails_with_a_reason(media: MediaHarness) -> None:
    admin = await media.tenant()
    await catalogue(media, admin, 1)
    hold = HoldWhileReading()
    async with worker(media.settings, on_progress=hold, media_video_time_limit_seconds=1.0):
        video = await create(media, admin)
        failed = await follow(media, admin, video["id"], "done", "failed")
    assert hold.reached.is_set()
    assert failed["status"] == "failed", failed
    assert failed["error"] == "The video took longer than 1 seconds and was stopped."
    assert not any(p.exists() for p in object_paths(media, admin, video["id"]).values())
    assert await job_status(media, video["id"]) == "succeeded"  # a final failure: not retried
