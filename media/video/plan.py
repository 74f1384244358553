"""The video's timeline in frames: which cards, how long each shows, where each transition starts.

Durations are whole frames at 30 fps, so the planned duration is exact and the captions, the progress and
the probes agree. Consecutive cards overlap by one transition (`xfade`), so a video of cards of lengths
d1…dn lasts d1+…+dn − (n−1)·T. The video never exceeds 60 s: the most recent POCs that fit get a card
each, and when some do not fit an "and N more" card says how many were left out.

Zero POCs in the period: a short video (title, a card saying there were none, outro) rather than a
refusal. The job system learns the count only when the worker reads the POCs, and a user asking for
"my year" gets an answer either way; the title card shows "0 POCs".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from media.reports.model import PocRow
from media.video.cards import CardKind

FPS = 30
TRANSITION_FRAMES = 15
MAX_FRAMES = 60 * FPS
FRAMES: dict[CardKind, int] = {"title": 90, "poc": 90, "more": 75, "stats": 120, "empty": 120, "outro": 90}


@dataclass(frozen=True, slots=True)
class Slot:
    """One card on the timeline: it starts fading in at `start` and is gone at `start + frames`."""

    kind: CardKind
    start: int
    frames: int
    row: PocRow | None = None
    position: int = 0
    """1-based place of a POC card among the period's POCs."""

    @property
    def end(self) -> int:
        return self.start + self.frames


@dataclass(frozen=True, slots=True)
class Plan:
    slots: tuple[Slot, ...]
    rows: tuple[PocRow, ...]
    """Every POC of the period, most recent first (the statistics count them all)."""
    shown: int
    """How many of them got a card of their own."""

    @property
    def total_frames(self) -> int:
        return self.slots[-1].end

    @property
    def duration(self) -> float:
        return self.total_frames / FPS

    @property
    def hidden(self) -> int:
        return len(self.rows) - self.shown

    def cue(self, index: int) -> tuple[int, int]:
        """The frames during which slot `index`'s words are the caption: until the next card starts."""
        slot = self.slots[index]
        end = self.slots[index + 1].start if index + 1 < len(self.slots) else slot.end
        return slot.start, end


def _total(kinds: Sequence[CardKind]) -> int:
    return sum(FRAMES[kind] for kind in kinds) - TRANSITION_FRAMES * (len(kinds) - 1)


def _kinds(shown: int, hidden: int) -> list[CardKind]:
    if shown == 0 and hidden == 0:
        return ["title", "empty", "outro"]
    pocs: list[CardKind] = ["poc"] * shown
    more: list[CardKind] = ["more"] if hidden else []
    return ["title", *pocs, *more, "stats", "outro"]


def plan_video(rows: Sequence[PocRow]) -> Plan:
    """The timeline for the period's POCs (`rows`, most recent first)."""
    count = len(rows)
    shown = count
    while shown > 0 and _total(_kinds(shown, count - shown)) > MAX_FRAMES:
        shown -= 1
    kinds = _kinds(shown, count - shown)
    slots: list[Slot] = []
    start = 0
    for kind in kinds:
        position = sum(1 for slot in slots if slot.kind == "poc") + 1 if kind == "poc" else 0
        row = rows[position - 1] if kind == "poc" else None
        slots.append(Slot(kind, start, FRAMES[kind], row, position))
        start += FRAMES[kind] - TRANSITION_FRAMES
    return Plan(tuple(slots), tuple(rows), shown)
