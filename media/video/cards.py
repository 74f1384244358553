"""The cards of a year-in-review video, each drawn alone with Pillow at the video's size.

A `Card` is an image plus the words it shows (the captions carry them). Layouts are drawn on a 1280×720
grid and scaled by the height, so 720p and 1080p cards look the same.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal
from urllib.parse import urlsplit

from PIL import Image, ImageDraw

from media.reports.locale import format_date, month_label, zone
from media.reports.locale import texts as report_texts
from media.reports.model import PocRow
from media.video.colors import RGB, language_color, readable_on
from media.video.fonts import Style, draw_text, text_width, wrap
from media.video.spec import VideoSpec
from media.video.texts import Texts, texts_for

CardKind = Literal["title", "poc", "more", "stats", "empty", "outro"]

_TOP: RGB = (15, 23, 42)
_BOTTOM: RGB = (40, 28, 72)
_INK: RGB = (248, 250, 252)
_MUTED: RGB = (170, 180, 200)
_ACCENT: RGB = (250, 204, 21)
_CHIP: RGB = (51, 65, 85)
_MAX_LANGUAGE_BARS = 6


@dataclass(frozen=True, slots=True)
class Card:
    kind: CardKind
    image: Image.Image
    lines: tuple[str, ...]
    """The card's words, in reading order (a caption cue)."""


@functools.cache
def _background(width: int, height: int) -> Image.Image:
    column = Image.new("RGB", (1, height))
    for y in range(height):
        t = y / max(height - 1, 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(_TOP, _BOTTOM, strict=True)))
    return column.resize((width, height))


class _Canvas:
    """A card being drawn: coordinates and sizes in 720p units, scaled to the real size."""

    def __init__(self, spec: VideoSpec) -> None:
        self.width, self.height = spec.size
        self.scale = self.height / 720
        self.image = _background(self.width, self.height).copy()
        self.draw = ImageDraw.Draw(self.image)

    def style(self, size: int, bold: bool = False) -> Style:
        return Style(round(size * self.scale), bold)

    def text(self, x: float, baseline: float, text: str, style: Style, fill: RGB = _INK) -> float:
        return draw_text(self.draw, (x * self.scale, baseline * self.scale), text, style, fill) / self.scale

    def centered(self, baseline: float, text: str, style: Style, fill: RGB = _INK) -> None:
        x = (self.width - text_width(text, style)) / 2 / self.scale
        self.text(x, baseline, text, style, fill)

    def box(self, x0: float, y0: float, x1: float, y1: float, fill: RGB, radius: float = 0) -> None:
        s = self.scale
        self.draw.rounded_rectangle((x0 * s, y0 * s, x1 * s, y1 * s), radius=radius * s, fill=fill)

    def measure(self, text: str, style: Style) -> float:
        return text_width(text, style) / self.scale

    @property
    def grid_width(self) -> float:
        return self.width / self.scale


def period_label(spec: VideoSpec, texts: Texts) -> str:
    tz = zone(spec.timezone)
    if spec.period.kind == "year":
        return str(spec.period.start.astimezone(tz).year)
    first = spec.period.start.astimezone(tz)
    last = spec.period.end.astimezone(tz)
    first_month = month_label(first.year, first.month, spec.locale)
    return f"{texts.last_12_months} · {first_month} – {month_label(last.year, last.month, spec.locale)}"


def title_card(spec: VideoSpec, count: int) -> Card:
    texts = texts_for(spec.locale)
    canvas = _Canvas(spec)
    period = period_label(spec, texts)
    canvas.centered(200, texts.title, canvas.style(40), _ACCENT)
    name_style = canvas.style(76, bold=True)
    name = wrap(spec.user_name, name_style, (canvas.grid_width - 160) * canvas.scale, 1)[0]
    canvas.centered(320, name, name_style)
    canvas.centered(410, period, canvas.style(36), _MUTED)
    canvas.centered(470, spec.tenant_name, canvas.style(30), _MUTED)
    counted = texts.poc_count(count)
    canvas.centered(580, counted, canvas.style(44, bold=True), _ACCENT)
    return Card("title", canvas.image, (texts.title, spec.user_name, period, spec.tenant_name, counted))


def github_repo(url: str) -> str:
    """`owner/repo` of a GitHub URL (the URL without its scheme when it is not one)."""
    parts = urlsplit(url)
    path = [segment for segment in parts.path.split("/") if segment]
    if parts.hostname in {"github.com", "www.github.com"} and len(path) >= 2:
        repo = path[1].removesuffix(".git")
        return f"{path[0]}/{repo}"
    return f"{parts.netloc}{parts.path}".rstrip("/") or url


def poc_card(spec: VideoSpec, row: PocRow, position: int, total: int) -> Card:
    texts = texts_for(spec.locale)
    canvas = _Canvas(spec)
    color = language_color(row.language)
    canvas.box(0, 0, 24, 720, color)
    counter = f"{position} / {total}"
    counter_style = canvas.style(28)
    canvas.text(canvas.grid_width - 80 - canvas.measure(counter, counter_style), 90, counter, counter_style, _MUTED)
    name_style = canvas.style(64, bold=True)
    name_lines = wrap(row.name, name_style, (canvas.grid_width - 200) * canvas.scale, 2)
    baseline = 200.0
    for line in name_lines:
        canvas.text(100, baseline, line, name_style)
        baseline += 80
    pill_style = canvas.style(30, bold=True)
    pill_width = canvas.measure(row.language, pill_style) + 48
    canvas.box(100, baseline - 10, 100 + pill_width, baseline + 44, color, radius=27)
    canvas.text(124, baseline + 28, row.language, pill_style, readable_on(color))
    baseline += 120
    tag_style = canvas.style(26)
    x = 100.0
    shown_tags: list[str] = []
    for tag in row.tags:
        chip = f"#{tag}"
        chip_width = canvas.measure(chip, tag_style) + 32
        if x + chip_width > canvas.grid_width - 80:
            break
        canvas.box(x, baseline - 34, x + chip_width, baseline + 12, _CHIP, radius=23)
        canvas.text(x + 16, baseline, chip, tag_style)
        shown_tags.append(chip)
        x += chip_width + 14
    created = texts.created_on.format(date=format_date(row.created_at, spec.locale, zone(spec.timezone)))
    canvas.text(100, 590, created, canvas.style(30), _MUTED)
    repo = github_repo(row.github_url)
    canvas.text(100, 640, repo, canvas.style(30, bold=True), _INK)
    lines = (row.name, row.language, " ".join(shown_tags), created, repo)
    return Card("poc", canvas.image, tuple(line for line in lines if line))


def more_card(spec: VideoSpec, count: int) -> Card:
    texts = texts_for(spec.locale)
    canvas = _Canvas(spec)
    words = texts.more(count)
    canvas.centered(390, words, canvas.style(64, bold=True), _ACCENT)
    return Card("more", canvas.image, (words,))


def _months(spec: VideoSpec) -> list[date]:
    tz = zone(spec.timezone)
    first = spec.period.start.astimezone(tz).date().replace(day=1)
    last = (spec.period.end.astimezone(tz) - _EPSILON).date().replace(day=1)
    months: list[date] = []
    current = first
    while current <= last:
        months.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return months


_EPSILON = timedelta(microseconds=1)


def stats_card(spec: VideoSpec, rows: Sequence[PocRow]) -> Card:
    """POCs per language (the most used first, the rest summed up) and per month of the period."""
    texts = texts_for(spec.locale)
    canvas = _Canvas(spec)
    canvas.centered(90, texts.stats_title, canvas.style(48, bold=True), _ACCENT)
    label_style, small = canvas.style(24), canvas.style(18)
    lines: list[str] = [texts.stats_title, texts.per_language]

    canvas.text(80, 160, texts.per_language, canvas.style(28, bold=True))
    counted = Counter(row.language for row in rows).items()
    languages = sorted(counted, key=lambda item: (-item[1], item[0].casefold()))  # most used, then by name
    shown = languages[:_MAX_LANGUAGE_BARS]
    others = sum(count for _, count in languages[_MAX_LANGUAGE_BARS:])
    top = max((count for _, count in shown), default=1)
    y = 200.0
    for language, count in shown:
        canvas.text(80, y + 28, language, label_style)
        width = 300 * count / top
        canvas.box(280, y + 4, 280 + max(width, 6), y + 36, language_color(language), radius=6)
        canvas.text(290 + max(width, 6), y + 30, str(count), label_style, _MUTED)
        lines.append(f"{language}: {count}")
        y += 52
    if others:
        others_label = texts.other_languages(others)
        canvas.text(80, y + 28, others_label, label_style, _MUTED)
        lines.append(others_label)

    lines.append(texts.per_month)
    canvas.text(680, 160, texts.per_month, canvas.style(28, bold=True))
    months = _months(spec)
    tz = zone(spec.timezone)
    per_month = Counter(row.created_at.astimezone(tz).date().replace(day=1) for row in rows)
    peak = max((per_month[month] for month in months), default=1) or 1
    slot = 540 / max(len(months), 1)
    floor = 600.0
    for index, month in enumerate(months):
        count = per_month[month]
        x = 680 + index * slot
        height = 320 * count / peak
        canvas.box(x + 4, floor - max(height, 2), x + slot - 4, floor, _ACCENT if count else _CHIP, radius=4)
        if count:
            number = str(count)
            canvas.text(x + (slot - canvas.measure(number, small)) / 2, floor - height - 10, number, small, _INK)
        label = report_texts(spec.locale).months[month.month - 1]
        canvas.text(x + (slot - canvas.measure(label, small)) / 2, floor + 30, label, small, _MUTED)
        lines.append(f"{month_label(month.year, month.month, spec.locale)}: {count}")
    return Card("stats", canvas.image, tuple(lines))


def empty_card(spec: VideoSpec) -> Card:
    texts = texts_for(spec.locale)
    canvas = _Canvas(spec)
    canvas.centered(330, texts.empty_title, canvas.style(56, bold=True), _ACCENT)
    body_style = canvas.style(32)
    baseline = 420.0
    for line in wrap(texts.empty_body, body_style, (canvas.grid_width - 240) * canvas.scale, 2):
        canvas.centered(baseline, line, body_style, _MUTED)
        baseline += 48
    return Card("empty", canvas.image, (texts.empty_title, texts.empty_body))


def outro_card(spec: VideoSpec) -> Card:
    texts = texts_for(spec.locale)
    canvas = _Canvas(spec)
    title = texts.outro_title.format(name=spec.user_name)
    title_style = canvas.style(60, bold=True)
    title = wrap(title, title_style, (canvas.grid_width - 160) * canvas.scale, 1)[0]
    canvas.centered(340, title, title_style)
    canvas.centered(420, texts.outro_body, canvas.style(34), _ACCENT)
    return Card("outro", canvas.image, (texts.outro_title.format(name=spec.user_name), texts.outro_body))
