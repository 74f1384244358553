"""The PDF report: cover, summary, charts, and a table of every POC.

Theory of operation. `write_pdf` lays out a reportlab platypus story in one pass:

- cover: the title (or the locale's default), tenant, user, request date and the filters in words;
  with no POC it also says "no POC matches these filters", and the document ends there;
- summary figures (POCs, languages, tags, owners, first and last creation date) and three charts
  (`media.reports.stats`): POCs per language (top 10 + the rest), the top 10 tags, and POCs per month
  over the 12 calendar months up to the request's month;
- the table: name, language, tags, created date, and the GitHub repository as `owner/repo` text with a
  link annotation. It is a `LongTable` with `repeatRows=1` (its header repeats on every page); the
  name, tags and link cells are Paragraphs so that they wrap (a long word is split), the language and
  date cells plain strings (cheap).

Every page carries "page N of M": N is drawn with the page, M is a form XObject that every page
references and that is defined once, when the canvas is saved and the page count is known (so one
layout pass, not two). The outline has cover, summary, charts and table; the metadata has title,
author (the user), subject (tenant and filters), creator "POC Dojo" and the language.

Text goes through `media.reports.fonts`: characters the embedded font lacks become "?" (see there).
Progress: `progress(done, total)` as table rows are drawn (every 0.5 % of rows, and once at the end
with done == total; with no POC, once with (0, 0)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, BinaryIO
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, LongTable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.doctemplate import LayoutError

from media.errors import RenderError
from media.reports.charts import fit, horizontal_bars, vertical_bars
from media.reports.fonts import Typeface, typeface
from media.reports.locale import Texts, describe_filters, format_date, format_datetime, format_number, texts, zone
from media.reports.model import Locale, PocRow, ProgressSink, ReportHeader
from media.reports.stats import Stats, summarize

CREATOR = "POC Dojo"
MARGIN = 40.0
FOOTER_Y = 24.0
TOTAL_FORM = "pocdojo-page-total"
FOOTER_SIZE = 8.0
CELL_SIZE = 8.0
CELL_PADDING = 5.0
"""Left and right; wide enough that text extraction (pdftotext) keeps neighbouring columns apart."""
# name, language, tags, created, GitHub: 515 pt, the width of A4 between the margins
COLUMNS = (170.0, 62.0, 128.0, 55.0, 100.0)
PROGRESS_STEPS = 200
LINK_COLOR = colors.HexColor("#1f5fbf")
RULE_COLOR = colors.HexColor("#c8ccd2")
HEADER_FILL = colors.HexColor("#e9edf2")


class _Styles:
    """The paragraph styles of one document, on the report's typeface."""

    def __init__(self, face: Typeface) -> None:
        self.title = ParagraphStyle("title", fontName=face.bold, fontSize=24, leading=30, spaceAfter=18)
        self.heading = ParagraphStyle("heading", fontName=face.bold, fontSize=15, leading=20, spaceAfter=10)
        self.body = ParagraphStyle("body", fontName=face.regular, fontSize=10.5, leading=14)
        self.label = ParagraphStyle("label", parent=self.body, fontName=face.bold)
        self.notice = ParagraphStyle("notice", parent=self.body, fontSize=13, leading=18, spaceBefore=24)
        self.cell = ParagraphStyle("cell", fontName=face.regular, fontSize=CELL_SIZE, leading=CELL_SIZE + 2)
        self.link = ParagraphStyle("link", parent=self.cell, textColor=LINK_COLOR)


class _Bookmark(Flowable):
    """An outline entry for the page it lands on (no size, draws nothing)."""

    def __init__(self, key: str, title: str) -> None:
        super().__init__()
        self.key = key
        self.title = title
        self.width = self.height = 0

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.canv.bookmarkPage(self.key)
        self.canv.addOutlineEntry(self.title, self.key, level=0)


class _Progress:
    """Counts table rows as they are drawn and tells the sink every `PROGRESS_STEPS`th of the table."""

    def __init__(self, sink: ProgressSink, total: int) -> None:
        self.sink = sink
        self.total = total
        self.done = 0
        self.every = max(1, total // PROGRESS_STEPS)

    def tick(self) -> None:
        self.done += 1
        if self.done % self.every == 0 and self.done < self.total:
            self.sink(self.done, self.total)

    def finish(self) -> None:
        self.sink(self.total, self.total)


class _CountedParagraph(Paragraph):
    """The name cell of a row: drawing it counts the row as done."""

    def __init__(self, text: str, style: ParagraphStyle, tick: Callable[[], None]) -> None:
        super().__init__(text, style)
        self._tick = tick

    def draw(self) -> None:
        super().draw()
        self._tick()


class _Line(Flowable):
    """A cell's text when it fits on one line: drawn with one `drawString` (a Paragraph costs ~20x more).

    Placed like a Paragraph's first line (baseline `fontSize` below the top); `url` makes it a link;
    `tick` counts its row as drawn."""

    def __init__(
        self, text: str, font: str, color: colors.Color, url: str | None = None, tick: Callable[[], None] | None = None
    ) -> None:
        super().__init__()
        self.text = text
        self.font = font
        self.color = color
        self.url = url
        self.tick = tick

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = stringWidth(self.text, self.font, CELL_SIZE)
        self.height = CELL_SIZE + 2
        return self.width, self.height

    def draw(self) -> None:
        self.canv.setFont(self.font, CELL_SIZE)
        self.canv.setFillColor(self.color)
        self.canv.drawString(0, self.height - CELL_SIZE, self.text)
        if self.url is not None:
            self.canv.linkURL(self.url, (0, 0, self.width, self.height), relative=1)
        if self.tick is not None:
            self.tick()


class _TotalPagesCanvas(Canvas):
    """A canvas that defines the "M" of "page N of M" (a form every page uses) when it is saved."""

    def __init__(self, *args: Any, total: Callable[[int], str], font: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._total = total
        self._font = font

    def save(self) -> None:
        pages = self.getPageNumber() - 1  # the page after the last one has been begun
        self.beginForm(TOTAL_FORM, lowerx=0, lowery=-4, upperx=200, uppery=FOOTER_SIZE + 4)
        self.setFont(self._font, FOOTER_SIZE)
        self.drawString(0, 0, self._total(pages))
        self.endForm()
        super().save()


def write_pdf(header: ReportHeader, rows: Sequence[PocRow], out: BinaryIO, progress: ProgressSink) -> None:
    """Write the report of `rows` (in their order) as a PDF into `out`; see the module doc."""
    face = typeface()
    words = texts(header.locale)
    tz = zone(header.timezone)
    styles = _Styles(face)
    title = header.title or words.default_title
    filters = describe_filters(header.filters, header.locale, tz, header.owner_names)
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 14,
        title=title,
        author=header.user_name,
        subject=f"{header.tenant_name} · {filters}",
        creator=CREATOR,
        lang=header.locale,
    )
    counter = _Progress(progress, len(rows))
    story: list[Flowable] = [_Bookmark("cover", words.cover), *_cover(header, title, filters, styles, face)]
    if rows:
        stats = summarize(rows, header.requested_at, tz)
        story += [PageBreak(), *_summary(stats, header.locale, words, styles, face, tz)]
        story += [PageBreak(), *_table(rows, header.locale, words, styles, face, tz, counter)]
    else:
        story.append(Paragraph(escape(words.no_match), styles.notice))

    def footer(canvas: Canvas, _doc: SimpleDocTemplate) -> None:
        _footer(canvas, words, header.locale, face, title)

    canvasmaker = partial(_TotalPagesCanvas, total=partial(format_number, locale=header.locale), font=face.regular)
    try:
        doc.build(story, onFirstPage=footer, onLaterPages=footer, canvasmaker=canvasmaker)
    except LayoutError as exc:
        raise RenderError(f"the report could not be laid out: {exc}") from exc
    counter.finish()


def _footer(canvas: Canvas, words: Texts, locale: Locale, face: Typeface, title: str) -> None:
    if canvas.getPageNumber() == 1:
        canvas.showOutline()
    width, _height = A4
    canvas.saveState()
    canvas.setStrokeColor(RULE_COLOR)
    canvas.line(MARGIN, FOOTER_Y + 12, width - MARGIN, FOOTER_Y + 12)
    canvas.setFont(face.regular, FOOTER_SIZE)
    canvas.setFillColor(colors.HexColor("#555a61"))
    label_x = width - MARGIN - 90
    canvas.drawString(MARGIN, FOOTER_Y, fit(face.drawable(title), face.regular, FOOTER_SIZE, label_x - MARGIN - 12))
    before = words.page_of.split("{pages}")[0].format(page=format_number(canvas.getPageNumber(), locale))
    canvas.drawString(label_x, FOOTER_Y, before)
    canvas.translate(label_x + stringWidth(before, face.regular, FOOTER_SIZE), FOOTER_Y)
    canvas.doForm(TOTAL_FORM)
    canvas.restoreState()


def _cover(header: ReportHeader, title: str, filters: str, styles: _Styles, face: Typeface) -> list[Flowable]:
    words = texts(header.locale)
    tz = zone(header.timezone)
    facts = [
        (words.tenant, header.tenant_name),
        (words.requested_by, header.user_name),
        (words.requested_at, f"{format_datetime(header.requested_at, header.locale, tz)} ({header.timezone})"),
        (words.filters, filters),
    ]
    cells = [[Paragraph(escape(k), styles.label), Paragraph(_markup(v, face), styles.body)] for k, v in facts]
    table = Table(cells, colWidths=(110, A4[0] - 2 * MARGIN - 110))
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 6)]))
    return [Spacer(1, 120), Paragraph(_markup(title, face), styles.title), table]


def _summary(stats: Stats, locale: Locale, words: Texts, styles: _Styles, face: Typeface, tz: Any) -> list[Flowable]:
    number = partial(format_number, locale=locale)
    figures = [
        (words.poc_count, number(stats.count)),
        (words.languages, number(len(stats.languages))),
        (words.tags, number(stats.tag_count)),
        (words.owners, number(stats.owner_count)),
        (words.first_created, format_date(stats.first_created, locale, tz)),
        (words.last_created, format_date(stats.last_created, locale, tz)),
    ]
    table = Table([[Paragraph(escape(label), styles.label), value] for label, value in figures], colWidths=(160, 200))
    table.setStyle(
        TableStyle(
            [
                ("FONT", (1, 0), (1, -1), face.regular, 10.5),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE_COLOR),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    width = A4[0] - 2 * MARGIN
    languages = [*stats.languages[:10]]
    rest = sum(count for _, count in stats.languages[10:])
    if rest:
        languages.append((words.other, rest))
    months = [(label, count) for label, count in stats.months(locale)]
    return [
        _Bookmark("summary", words.summary),
        Paragraph(escape(words.summary), styles.heading),
        table,
        Spacer(1, 18),
        _Bookmark("charts", words.charts),
        Paragraph(escape(words.charts), styles.heading),
        horizontal_bars(words.chart_languages, languages, width, face, number),
        Spacer(1, 12),
        horizontal_bars(words.chart_tags, stats.tags[:10], width, face, number),
        Spacer(1, 12),
        vertical_bars(words.chart_months, months, width, face, number),
    ]


def _table(
    rows: Sequence[PocRow],
    locale: Locale,
    words: Texts,
    styles: _Styles,
    face: Typeface,
    tz: Any,
    counter: _Progress,
) -> list[Flowable]:
    heading = [words.col_name, words.col_language, words.col_tags, words.col_created, words.col_github]
    data: list[list[Any]] = [heading]
    inner = [width - 2 * CELL_PADDING for width in COLUMNS]

    def fits(text: str, column: int) -> bool:
        return stringWidth(text, face.regular, CELL_SIZE) <= inner[column]

    for row in rows:
        name = face.drawable(row.name)
        name_cell: Flowable = (
            _Line(name, face.regular, colors.black, tick=counter.tick)
            if fits(name, 0)
            else _CountedParagraph(escape(name), styles.cell, counter.tick)
        )
        tags = face.drawable(", ".join(row.tags))
        repo = face.drawable(repository(row.github_url))
        link_cell: Flowable = (
            _Line(repo, face.regular, LINK_COLOR, url=row.github_url)
            if fits(repo, 4)
            else Paragraph(_link(row.github_url, repo), styles.link)
        )
        data.append(
            [
                name_cell,
                fit(face.drawable(row.language), face.regular, CELL_SIZE, inner[1]),
                tags if fits(tags, 2) else Paragraph(escape(tags), styles.cell),
                format_date(row.created_at, locale, tz),
                link_cell,
            ]
        )
    table = LongTable(data, colWidths=COLUMNS, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), face.bold, CELL_SIZE),
                ("FONT", (0, 1), (-1, -1), face.regular, CELL_SIZE),
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE_COLOR),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
            ]
        )
    )
    return [_Bookmark("table", words.table), Paragraph(escape(words.table), styles.heading), table]


def _markup(text: str, face: Typeface) -> str:
    """Plain text as Paragraph markup: drawable characters only, XML escaped."""
    return escape(face.drawable(text))


def repository(url: str) -> str:
    """`owner/repo` of a GitHub URL (the URL itself when it has no such path)."""
    path = urlsplit(url).path.strip("/")
    return path.removesuffix(".git") if path else url


def _link(url: str, text: str) -> str:
    """Paragraph markup of `text` (drawable already) carrying a link annotation to `url`."""
    href = escape(url, {'"': "&quot;"})
    return f'<a href="{href}">{escape(text)}</a>'
