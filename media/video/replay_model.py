"""What a dojo replay video is made from, as the media service reads the dojo's history API
(docs/replay.md): the timeline (`ReplayHistory`: authors and their colours, randori rotations, chat, idle
stretches) and the frames (`Frame`: every file's text at one instant, cut in runs by author), plus what the
video is asked for (`ReplaySpec`). Plain immutable data; `media.dojos_client` builds it from JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from media.reports.model import Locale
from media.video.colors import RGB
from media.video.spec import RESOLUTIONS, Resolution

UNKNOWN_AUTHOR: RGB = (203, 213, 225)
"""The colour of text no author wrote (a seed, e.g. a POC template)."""


@dataclass(frozen=True, slots=True)
class Author:
    user_id: str
    display_name: str
    color: RGB


@dataclass(frozen=True, slots=True)
class Rotation:
    """A randori rotation: from `t_ms` on, `driver_id` types (and `navigator_id`, if any, guides)."""

    t_ms: int
    driver_id: str | None
    navigator_id: str | None


@dataclass(frozen=True, slots=True)
class ChatLine:
    t_ms: int
    user_id: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Idle:
    """A stretch of the session with no edit (`[from_ms, to_ms)`, at least 10 s): the video compresses it."""

    from_ms: int
    to_ms: int


@dataclass(frozen=True, slots=True)
class ReplayHistory:
    dojo_id: str
    started_at: datetime
    ended_at: datetime | None
    duration_ms: int
    files: tuple[str, ...]
    authors: tuple[Author, ...]
    rotations: tuple[Rotation, ...]
    chat: tuple[ChatLine, ...]
    idle: tuple[Idle, ...]

    def author(self, user_id: str | None) -> Author | None:
        return next((author for author in self.authors if author.user_id == user_id), None)

    def color_of(self, user_id: str | None) -> RGB:
        author = self.author(user_id)
        return UNKNOWN_AUTHOR if author is None else author.color

    def name_of(self, user_id: str | None, nobody: str) -> str:
        """The author's display name; `nobody` for no user, a short form of the id for a non-author."""
        if user_id is None:
            return nobody
        author = self.author(user_id)
        return author.display_name if author is not None else user_id[:8]


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of a file's text one author wrote (`user_id` None: no author, e.g. a seed)."""

    text: str
    user_id: str | None


@dataclass(frozen=True, slots=True)
class FileRuns:
    path: str
    runs: tuple[Run, ...]

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)


@dataclass(frozen=True, slots=True)
class Frame:
    """Every file's text at `t_ms` (ms since the dojo started), and who was driving then."""

    t_ms: int
    driver_id: str | None
    files: tuple[FileRuns, ...]

    def file(self, path: str) -> FileRuns | None:
        return next((found for found in self.files if found.path == path), None)


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    """The request: which dojo (its title is shown), how fast, how big, in which language."""

    title: str
    speed: float
    resolution: Resolution = "720p"
    locale: Locale = "pt-BR"
    timezone: str = "America/Sao_Paulo"
    """Where the clock in the header is shown."""

    @property
    def size(self) -> tuple[int, int]:
        return RESOLUTIONS[self.resolution]
