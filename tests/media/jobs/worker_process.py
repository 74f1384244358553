"""A media worker as its own process for the kill -9 test: `python -m tests.media.jobs.worker_process MARKER`.

Settings come from the environment like `pocdojo worker media`. Its runs hold when they reach the rendering
stage (test-only slowness through the worker's progress hook, no sleep in product code): the process writes
`MARKER` and waits there until it is killed."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

from media.repository import Stage
from media.worker import MediaWorker, run_until_signalled
from runtime.logs import configure_logging
from runtime.settings import Settings


def publish(marker: Path, text: str) -> None:
    """Write `marker` whole or not at all: the test polls for the file and reads it at once."""
    partial = marker.with_name(marker.name + ".partial")
    partial.write_text(text)
    partial.replace(marker)


def main() -> None:
    marker = Path(sys.argv[1])
    forever = asyncio.Event()

    async def hold(report_id: uuid.UUID, stage: Stage, value: int) -> None:
        if stage == "rendering":
            await asyncio.to_thread(publish, marker, str(report_id))
            await forever.wait()

    configure_logging("INFO")
    run_until_signalled(MediaWorker(Settings.from_env(), on_progress=hold))


if __name__ == "__main__":
    main()
