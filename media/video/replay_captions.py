"""A replay video's captions: every driver change and chat message of the session, where it happened in the
video, for `CAPTION_SECONDS`; drawn over the code (`replay_screen`) and written as the WebVTT file."""

from __future__ import annotations

from dataclasses import dataclass

from media.reports.model import Locale
from media.video.captions import cue_text, timestamp
from media.video.replay_model import ReplayHistory
from media.video.replay_plan import CAPTION_SECONDS, ReplayPlan


@dataclass(frozen=True, slots=True)
class ReplayTexts:
    driver: str
    driver_and_navigator: str
    nobody: str
    speed: str


_TEXTS: dict[Locale, ReplayTexts] = {
    "pt-BR": ReplayTexts(
        driver="{driver} assume o teclado",
        driver_and_navigator="{driver} assume o teclado, {navigator} navega",
        nobody="ninguém",
        speed="{speed}× mais rápido",
    ),
    "en": ReplayTexts(
        driver="{driver} takes the keyboard",
        driver_and_navigator="{driver} takes the keyboard, {navigator} navigates",
        nobody="nobody",
        speed="{speed}× faster",
    ),
}


def replay_texts(locale: Locale) -> ReplayTexts:
    return _TEXTS[locale]


@dataclass(frozen=True, slots=True)
class Cue:
    start: float
    end: float
    text: str
    kind: str
    """`driver` or `chat`."""


def _speed_label(speed: float) -> str:
    return f"{speed:g}"


def speed_label(speed: float, locale: Locale) -> str:
    return replay_texts(locale).speed.format(speed=_speed_label(speed))


def replay_cues(history: ReplayHistory, plan: ReplayPlan, locale: Locale) -> list[Cue]:
    """The captions in the order they start (a driver change before a chat line at the same instant)."""
    texts = replay_texts(locale)
    end_of_video = plan.duration
    found: list[tuple[int, int, Cue]] = []
    for rotation in history.rotations:
        driver = history.name_of(rotation.driver_id, texts.nobody)
        if rotation.navigator_id is None:
            text = texts.driver.format(driver=driver)
        else:
            navigator = history.name_of(rotation.navigator_id, texts.nobody)
            text = texts.driver_and_navigator.format(driver=driver, navigator=navigator)
        start = plan.video_time(rotation.t_ms)
        found.append((rotation.t_ms, 0, Cue(start, min(start + CAPTION_SECONDS, end_of_video), text, "driver")))
    for line in history.chat:
        text = f"{history.name_of(line.user_id, texts.nobody)}: {' '.join(line.text.split())}"
        start = plan.video_time(line.t_ms)
        found.append((line.t_ms, 1, Cue(start, min(start + CAPTION_SECONDS, end_of_video), text, "chat")))
    found.sort(key=lambda item: (item[0], item[1]))
    return [cue for _, _, cue in found if cue.end > cue.start]


def active_cues(cues: list[Cue], seconds: float, most: int) -> list[Cue]:
    """The `most` latest cues on screen at `seconds` into the video, oldest first."""
    showing = [cue for cue in cues if cue.start <= seconds < cue.end]
    return showing[-most:]


def replay_webvtt(cues: list[Cue]) -> str:
    blocks = ["WEBVTT"]
    for index, cue in enumerate(cues):
        blocks.append(f"{index + 1}\n{timestamp(cue.start)} --> {timestamp(cue.end)}\n{cue_text(cue.text)}")
    return "\n\n".join(blocks) + "\n"
