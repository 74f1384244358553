"""A replay video's timeline: which instant of the session each frame shows, and when each caption plays.

The rule (docs: README "Videos"):
- the session is cut into stretches: its idle ones (the history's `idle`, no edit for ≥ 10 s) and the active
  ones between them;
- an active stretch plays `speed` times faster than it happened (speed 8: a minute of typing lasts 7.5 s);
  an idle stretch plays in `IDLE_SECONDS` (1 s) whatever its length;
- when that makes the session longer than `MAX_SECONDS` − `HOLD_SECONDS` (178 s), every stretch is shortened
  by the same factor, so the video never lasts more than `MAX_SECONDS` (3 min) whatever the speed;
- the final state is then held for `HOLD_SECONDS` (the thumbnail is that last frame).
Frames are `FPS` per second; frame n shows the session at `frame_times[n]` (ms since the dojo started).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from media.video.replay_model import Idle

FPS = 15
MAX_SECONDS = 180.0
HOLD_SECONDS = 2.0
IDLE_SECONDS = 1.0
CAPTION_SECONDS = 3.0
"""How long a caption (a chat line, a driver change) stays on screen and in the WebVTT cue."""


@dataclass(frozen=True, slots=True)
class Stretch:
    """`[from_ms, to_ms)` of the session, played over `[start, end)` seconds of the video."""

    from_ms: int
    to_ms: int
    start: float
    end: float
    idle: bool


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    duration_ms: int
    stretches: tuple[Stretch, ...]
    play_frames: int
    """Frames that move through the session; the hold frames follow."""
    hold_frames: int

    @property
    def total_frames(self) -> int:
        return self.play_frames + self.hold_frames

    @property
    def duration(self) -> float:
        return self.total_frames / FPS

    @property
    def play_seconds(self) -> float:
        return self.stretches[-1].end if self.stretches else 0.0

    def video_time(self, t_ms: int) -> float:
        """Where the session's instant `t_ms` plays in the video (seconds)."""
        for stretch in self.stretches:
            if t_ms < stretch.to_ms:
                share = (max(t_ms, stretch.from_ms) - stretch.from_ms) / (stretch.to_ms - stretch.from_ms)
                return stretch.start + share * (stretch.end - stretch.start)
        return self.play_seconds

    def session_time(self, seconds: float) -> int:
        """The session's instant (ms) the video shows at `seconds`."""
        for stretch in self.stretches:
            if seconds < stretch.end:
                share = (seconds - stretch.start) / (stretch.end - stretch.start)
                return min(stretch.from_ms + round(share * (stretch.to_ms - stretch.from_ms)), self.duration_ms)
        return self.duration_ms

    def frame_times(self) -> list[int]:
        """The session's instant of every frame (ascending; the hold frames show the end)."""
        played = [self.session_time(index / FPS) for index in range(self.play_frames)]
        return played + [self.duration_ms] * self.hold_frames


def _idle_stretches(idle: tuple[Idle, ...], duration_ms: int) -> list[tuple[int, int]]:
    """The idle stretches inside the session, sorted, overlaps merged."""
    merged: list[tuple[int, int]] = []
    for stretch in sorted(idle, key=lambda item: item.from_ms):
        start, end = max(stretch.from_ms, 0), min(stretch.to_ms, duration_ms)
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def plan_replay(duration_ms: int, idle: tuple[Idle, ...], speed: float) -> ReplayPlan:
    """The timeline of a session lasting `duration_ms`, played at `speed` (1-64)."""
    if not 1 <= speed <= 64:
        raise ValueError("speed must be from 1 to 64")
    duration_ms = max(duration_ms, 0)
    pieces: list[tuple[int, int, bool]] = []
    cursor = 0
    for start, end in _idle_stretches(idle, duration_ms):
        if start > cursor:
            pieces.append((cursor, start, False))
        pieces.append((start, end, True))
        cursor = end
    if duration_ms > cursor:
        pieces.append((cursor, duration_ms, False))
    natural = [IDLE_SECONDS if is_idle else (end - start) / 1000 / speed for start, end, is_idle in pieces]
    budget = MAX_SECONDS - HOLD_SECONDS
    factor = min(1.0, budget / sum(natural)) if natural else 1.0
    stretches: list[Stretch] = []
    at = 0.0
    for (start, end, is_idle), seconds in zip(pieces, natural, strict=True):
        stretches.append(Stretch(start, end, at, at + seconds * factor, is_idle))
        at += seconds * factor
    play_frames = min(math.ceil(at * FPS), round(budget * FPS))
    return ReplayPlan(duration_ms, tuple(stretches), play_frames, round(HOLD_SECONDS * FPS))
