"""`pocdojo dev` on a fresh state directory serves `/v1/videos` end to end: its in-process media worker makes
the video (the real ffmpeg) and the MP4 downloads through the local store's signed URL."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import wait_until
from tests.deploy.test_cli import signed_in_dev


async def test_dev_makes_a_video_end_to_end(server_dir: Path) -> None:
    async with signed_in_dev(server_dir) as (http, auth):
        created = await http.post("/v1/videos", json={"resolution": "720p", "locale": "pt-BR"}, headers=auth)
        assert created.status_code == 202, created.text
        video_id = created.json()["id"]

        async def done() -> bool:
            video = (await http.get(f"/v1/videos/{video_id}", params={"wait": 5}, headers=auth)).json()
            assert video["status"] in ("queued", "running", "done"), video
            return bool(video["status"] == "done")

        await wait_until(done, within=120, interval=0)
        download = await http.get(f"/v1/videos/{video_id}/download", headers=auth, follow_redirects=True)
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("video/mp4")
        assert download.content[4:8] == b"ftyp"  # an MP4
        captions = await http.get(f"/v1/videos/{video_id}/captions", headers=auth, follow_redirects=True)
        assert "Integração PIX" in captions.text
