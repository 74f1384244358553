"""A media worker as its own process for the video kill -9 test: `python -m tests.media.videos.worker_process
MARKER`. Settings come from the environment like `pocdojo worker media`. Its video runs hold at their first
progress step while ffmpeg encodes (test-only slowness through the worker's progress hook; ffmpeg itself runs
on): the process writes `MARKER` and waits there until it is killed."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

from media.repository import Stage
from media.worker import MediaWorker, run_until_signalled
from runtime.logs import configure_logging
from runtime.settings import Settings
from tests.media.videos.conftest import encoding


def main() -> None:
    marker = Path(sys.argv[1])
    forever = asyncio.Event()

    async def hold(video_id: uuid.UUID, stage: Stage, value: int) -> None:
        if encoding(stage, value):
            await asyncio.to_thread(marker.write_text, str(video_id))
            await forever.wait()

    configure_logging("INFO")
    run_until_signalled(MediaWorker(Settings.from_env(), on_progress=hold))


if __name__ == "__main__":
    main()
