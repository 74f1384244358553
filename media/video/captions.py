"""WebVTT captions: one cue per card, carrying the card's words while it is on screen."""

from __future__ import annotations

from collections.abc import Sequence

from media.video.cards import Card
from media.video.plan import FPS, Plan


def _timestamp(frame: int) -> str:
    return timestamp(frame / FPS)


def timestamp(seconds: float) -> str:
    """A WebVTT cue time (`hh:mm:ss.ttt`) of `seconds` into the video."""
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def cue_text(line: str) -> str:
    """`line` as a cue's text: on one line, with `&`, `<` and `>` escaped."""
    # A cue's text may hold neither "-->" nor a blank line, and `&`/`<` start entities and tags.
    text = " ".join(line.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def webvtt(plan: Plan, cards: Sequence[Card]) -> str:
    """The captions file for `cards` (drawn for `plan.slots`, in the same order)."""
    blocks = ["WEBVTT"]
    for index, card in enumerate(cards):
        start, end = plan.cue(index)
        lines = [cue_text(line) for line in card.lines if line.strip()]
        blocks.append(f"{index + 1}\n{_timestamp(start)} --> {_timestamp(end)}\n" + "\n".join(lines))
    return "\n\n".join(blocks) + "\n"
