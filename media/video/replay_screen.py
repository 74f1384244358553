"""One frame of a replay video, drawn with Pillow: a header (the dojo's title, the file shown, the clock), the
file's code in JetBrains Mono with each author's text in the author's colour, the captions of the moment
(driver changes, chat) and a legend of the authors.

`ReplayScreen` draws the frames in order and keeps what a viewer would expect to stay put between them:
the file shown (the one being edited; it changes when another file is edited) and the scroll position
(the edited line kept in view). Layouts are on a 1280×720 grid scaled by the height, as the year video's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from PIL import Image, ImageDraw

from media.reports.locale import zone
from media.video.colors import RGB
from media.video.fonts import Style, code_font, draw_text, text_width, wrap
from media.video.replay_captions import Cue, active_cues, speed_label
from media.video.replay_model import FileRuns, Frame, ReplayHistory, ReplaySpec

BACKGROUND: RGB = (13, 17, 23)
_HEADER: RGB = (22, 27, 34)
_INK: RGB = (240, 246, 252)
_MUTED: RGB = (139, 148, 158)
_CAPTION_BOX: RGB = (33, 38, 45)
_TAB = "    "
_HEADER_BOTTOM = 76
_CODE_TOP = 92
_CODE_BOTTOM = 676
_CODE_LEFT = 72
_LINE_HEIGHT = 26
_CODE_SIZE = 18
_CAPTIONS_SHOWN = 2


@dataclass(frozen=True, slots=True)
class Piece:
    """Part of one line of code, and the colour it is drawn in."""

    text: str
    color: RGB


def code_lines(file: FileRuns, history: ReplayHistory) -> list[list[Piece]]:
    """The file's text cut into lines, each line into pieces of one author (tabs as four spaces)."""
    lines: list[list[Piece]] = [[]]
    for run in file.runs:
        color = history.color_of(run.user_id)
        for index, part in enumerate(run.text.split("\n")):
            if index:
                lines.append([])
            if part:
                lines[-1].append(Piece(part.replace("\t", _TAB).replace("\r", ""), color))
    return lines


def common_prefix(first: str, second: str) -> int:
    """The length of the longest common prefix (compared in C-speed slices, then character by character)."""
    low, high = 0, min(len(first), len(second))
    while low < high:  # binary search on slice equality
        middle = (low + high + 1) // 2
        if first[:middle] == second[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


class ReplayScreen:
    """Draws a replay's frames, in order (it remembers the file shown and the scroll position)."""

    def __init__(self, spec: ReplaySpec, history: ReplayHistory, cues: Sequence[Cue]) -> None:
        self.spec, self.history, self.cues = spec, history, list(cues)
        self.width, self.height = spec.size
        self.scale = self.height / 720
        self.font = code_font(round(_CODE_SIZE * self.scale))
        self.column = self.font.getlength("M")
        self.rows = (_CODE_BOTTOM - _CODE_TOP) // _LINE_HEIGHT
        self.columns = int((self.width - (_CODE_LEFT + 24) * self.scale) // self.column)
        self.path: str | None = None
        self.top = 0
        self._texts: dict[str, str] = {}

    # -- which file, which lines ----------------------------------------------------------------------
    def _follow(self, frame: Frame) -> FileRuns | None:
        """The file to show in `frame` (the one just edited, else the one shown before) and the scroll."""
        texts = {file.path: file.text for file in frame.files}
        changed = [path for path, text in texts.items() if self._texts.get(path) != text]
        if self.path not in texts or (changed and self.path not in changed):
            chosen = changed[0] if changed else next((f.path for f in frame.files if texts[f.path]), None)
            if chosen is None and frame.files:
                chosen = frame.files[0].path
            if chosen != self.path:
                self.path, self.top = chosen, 0
        if self.path is None:
            self._texts = texts
            return None
        text = texts[self.path]
        before = self._texts.get(self.path)
        if before is not None and before != text:
            line = text.count("\n", 0, common_prefix(before, text))
            if not self.top <= line < self.top + self.rows - 1:
                self.top = max(0, line - self.rows // 3)
        self.top = min(self.top, max(0, text.count("\n") + 1 - self.rows))
        self._texts = texts
        return frame.file(self.path)

    # -- drawing -----------------------------------------------------------------------------------
    def _xy(self, x: float, y: float) -> tuple[float, float]:
        return x * self.scale, y * self.scale

    def _style(self, size: int, bold: bool = False) -> Style:
        return Style(round(size * self.scale), bold)

    def _right(self, draw: ImageDraw.ImageDraw, baseline: float, text: str, style: Style, fill: RGB) -> float:
        width = text_width(text, style)
        x = self.width - 32 * self.scale - width
        draw_text(draw, (x, baseline * self.scale), text, style, fill)
        return x

    def _header(self, draw: ImageDraw.ImageDraw, frame: Frame) -> None:
        draw.rectangle((0, 0, self.width, _HEADER_BOTTOM * self.scale), fill=_HEADER)
        started = self.history.started_at.astimezone(zone(self.spec.timezone))
        clock = (started + timedelta(milliseconds=frame.t_ms)).strftime("%H:%M:%S")
        elapsed = f"{_minutes(frame.t_ms)} / {_minutes(self.history.duration_ms)}"
        clock_left = self._right(draw, 34, clock, self._style(24, bold=True), _INK)
        self._right(draw, 62, f"{elapsed} · {speed_label(self.spec.speed, self.spec.locale)}", self._style(16), _MUTED)
        title_style = self._style(24, bold=True)
        room = clock_left - 64 * self.scale
        title = wrap(self.spec.title or "Dojo", title_style, room, 1)[0]
        draw_text(draw, self._xy(32, 34), title, title_style, _INK)
        if self.path is not None:
            draw.text(self._xy(32, 62), self.path, font=code_font(round(15 * self.scale)), fill=_MUTED, anchor="ls")

    def _code(self, draw: ImageDraw.ImageDraw, file: FileRuns) -> None:
        lines = code_lines(file, self.history)
        numbers = code_font(round(13 * self.scale))
        for row, pieces in enumerate(lines[self.top : self.top + self.rows]):
            baseline = (_CODE_TOP + (row + 1) * _LINE_HEIGHT - 7) * self.scale
            number = str(self.top + row + 1)
            draw.text(((_CODE_LEFT - 14) * self.scale, baseline), number, font=numbers, fill=_MUTED, anchor="rs")
            column = 0
            for piece in pieces:
                if column >= self.columns:
                    break
                text = piece.text[: self.columns - column]
                x = _CODE_LEFT * self.scale + column * self.column
                draw.text((x, baseline), text, font=self.font, fill=piece.color, anchor="ls")
                column += len(text)

    def _captions(self, draw: ImageDraw.ImageDraw, seconds: float) -> None:
        style = self._style(20)
        bottom = 668.0
        for cue in reversed(active_cues(self.cues, seconds, _CAPTIONS_SHOWN)):
            line = wrap(cue.text, style, self.width - 160 * self.scale, 1)[0]
            width = text_width(line, style) / self.scale
            left = (self.width / self.scale - width) / 2
            box = (left - 16, bottom - 34, left + width + 16, bottom)
            draw.rounded_rectangle(tuple(v * self.scale for v in box), radius=8 * self.scale, fill=_CAPTION_BOX)
            draw_text(draw, self._xy(left, bottom - 10), line, style, _INK)
            bottom -= 42

    def _legend(self, draw: ImageDraw.ImageDraw, frame: Frame) -> None:
        style, bold = self._style(16), self._style(16, bold=True)
        x = 32.0
        for author in self.history.authors:
            if (x + 120) * self.scale > self.width:
                break
            draw.rectangle((*self._xy(x, 696), *self._xy(x + 12, 708)), fill=author.color)
            # the driver's name in bold
            name_style = bold if author.user_id == frame.driver_id else style
            x += 20 + draw_text(draw, self._xy(x + 20, 708), author.display_name, name_style, _INK) / self.scale + 28

    def draw(self, frame: Frame, seconds: float) -> Image.Image:
        """The picture of `frame`, shown at `seconds` into the video (which captions are on)."""
        file = self._follow(frame)
        image = Image.new("RGB", (self.width, self.height), BACKGROUND)
        draw = ImageDraw.Draw(image)
        self._header(draw, frame)
        if file is not None:
            self._code(draw, file)
        self._captions(draw, seconds)
        self._legend(draw, frame)
        return image

    def line_box(self, row: int) -> tuple[int, int, int, int]:
        """The pixels of the `row`-th visible code line (0-based, below the scroll): what tests look at."""
        top = round((_CODE_TOP + row * _LINE_HEIGHT) * self.scale)
        bottom = round((_CODE_TOP + (row + 1) * _LINE_HEIGHT) * self.scale)
        return round(_CODE_LEFT * self.scale), top, self.width, bottom


def _minutes(ms: int) -> str:
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"
