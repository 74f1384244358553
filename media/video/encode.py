"""Running ffmpeg: progress from its own `-progress pipe:1` output, a time limit, cancellation.

ffmpeg writes `key=value` lines to stdout (`out_time_us=…`, then `progress=continue|end`); a reader thread
turns `out_time_us` into seconds and queues them, so the caller's thread reports progress, watches the
deadline and the cancel signal, and kills the process. stderr is read by another thread into a bounded
tail that goes into the error when ffmpeg fails. With a `feed` (raw frames drawn on the fly, the replay
video), a third thread writes its chunks to ffmpeg's stdin: a blocking pipe, so at most one frame waits in
memory while ffmpeg encodes. Whatever happens, the process is dead and every thread joined when
`run_ffmpeg` returns or raises.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import IO

from media.errors import RenderCancelled, RenderError, RenderTimeout

Cancel = threading.Event | Callable[[], bool] | None
"""Set (an `Event`) or returning True (a callable) when the render must stop."""

_POLL_SECONDS = 0.05
_STDERR_LINES = 30
_END = object()


def is_cancelled(cancel: Cancel) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return cancel()


def _read_progress(stream: IO[bytes], found: queue.Queue[object]) -> None:
    try:
        for raw in stream:
            key, _, value = raw.decode("utf-8", "replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                found.put(int(value) / 1_000_000)
    finally:
        found.put(_END)


def _read_tail(stream: IO[bytes], tail: deque[str]) -> None:
    for line in stream:
        tail.append(line.decode("utf-8", "replace").rstrip())


class _Feeder:
    """Writes `chunks` to ffmpeg's stdin in a thread. A chunk source that raises stops the encode with its
    error (`failure`); a pipe closed by ffmpeg (it exited or was killed) ends the feed, and ffmpeg's exit
    status says why (`closed_early`)."""

    def __init__(self, chunks: Iterable[bytes], stdin: IO[bytes]) -> None:
        self.chunks, self.stdin = chunks, stdin
        self.failure: BaseException | None = None
        self.closed_early = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for chunk in self.chunks:
                self.stdin.write(chunk)
        except BrokenPipeError:
            self.closed_early = True
        except Exception as error:  # noqa: BLE001 - handed to the caller's thread, which raises it
            self.failure = error
        finally:
            self._close()

    def _close(self) -> None:
        try:
            self.stdin.close()
        except BrokenPipeError:
            self.closed_early = True


class _Reporter:
    """Turns encoded seconds into a percentage that only rises, never reaching 100 before the end."""

    def __init__(self, planned: float, progress: Callable[[float], None], ceiling: float) -> None:
        self.planned, self.progress, self.ceiling = planned, progress, ceiling
        self.last = -1.0

    def seconds(self, done: float) -> None:
        percent = round(min(max(done, 0.0) / self.planned * 100, self.ceiling), 1)
        if percent > self.last:
            self.last = percent
            self.progress(percent)


def run_ffmpeg(
    args: Sequence[str],
    *,
    planned_seconds: float,
    progress: Callable[[float], None],
    deadline: float,
    cancel: Cancel = None,
    ceiling: float = 99.0,
    feed: Iterable[bytes] | None = None,
) -> None:
    """Run `args` (an ffmpeg command with `-progress pipe:1`) until it ends, reporting 0…`ceiling` percent.

    `deadline` is a `time.monotonic()` instant: past it ffmpeg is killed and `RenderTimeout` raised; a set
    `cancel` kills it and raises `RenderCancelled`; a non-zero exit raises `RenderError` with stderr's tail.
    `feed`: what ffmpeg reads on stdin (`-i pipe:0`), written as it is produced; an error the feed raises
    kills ffmpeg and is raised here.
    """
    reporter = _Reporter(planned_seconds, progress, ceiling)
    found: queue.Queue[object] = queue.Queue()
    tail: deque[str] = deque(maxlen=_STDERR_LINES)
    process = subprocess.Popen(  # noqa: S603 - our own argument list, no shell
        list(args),
        stdin=subprocess.DEVNULL if feed is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    readers = [
        threading.Thread(target=_read_progress, args=(process.stdout, found), daemon=True),
        threading.Thread(target=_read_tail, args=(process.stderr, tail), daemon=True),
    ]
    feeder = None
    if feed is not None:
        assert process.stdin is not None
        feeder = _Feeder(feed, process.stdin)
        readers.append(feeder.thread)
    for reader in readers:
        reader.start()
    try:
        stdout_open = True
        while stdout_open or process.poll() is None:
            if feeder is not None and feeder.failure is not None:
                raise feeder.failure
            if is_cancelled(cancel):
                raise RenderCancelled("the video was cancelled while it was being encoded")
            if time.monotonic() > deadline:
                raise RenderTimeout("the video took longer than its time limit to encode; the encoder was stopped")
            try:
                item = found.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if item is _END:
                stdout_open = False
            elif isinstance(item, float):
                reporter.seconds(item)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for reader in readers:
            reader.join()
        process.stdout.close()
        process.stderr.close()
    if feeder is not None and feeder.failure is not None:
        raise feeder.failure
    if process.returncode != 0:
        detail = "\n".join(tail)[-2000:]
        raise RenderError(f"ffmpeg failed (exit status {process.returncode}): {detail}")
    if feeder is not None and feeder.closed_early:
        raise RenderError("ffmpeg stopped reading the frames before the last one")
