"""The PDF report: cover, summary, charts, and a table of every POC.

Theory of operation. `write_pdf` lays out a reportlab platypus story in one pass:

- cover: the title (or the locale's default), tenant, user, request date and the filters in words;
  with no POC it also says "no POC matches these filters", and the document ends there;
- summary figures (POCs, languages, tags, owners, first and last creation date) and three charts
  (`media.reports.stats`): POCs per language (top 10 + the rest), the top 10 tags, and POCs per month
  over the 12 calendar months up to the request's month;
- the table (`media.reports.pdf_table`): name, language, tags, created date, and the GitHub repository
  as `owner/repo` text with a link annotation; its header row on every page; long names and tag lists
  wrap inside their cells.

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
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.doctemplate import LayoutError

from media.errors import RenderError
from media.reports.charts import fit, horizontal_bars, vertical_bars
from media.reports.fonts import Typeface, typeface
from media.reports.locale import Texts, describe_filters, format_date, format_datetime, format_number, texts, zone
from media.reports.model import Locale, PocRow, ProgressSink, ReportHeader
from media.reports.pdf_table import RULE_COLOR, Progress, TableSpace, table_pages
from media.reports.stats import Stats, summarize

CREATOR = "POC Dojo"
MARGIN = 40.0
FOOTER_Y = 24.0
TOTAL_FORM = "pocdojo-page-total"
FOOTER_SIZE = 8.0
FRAME_PADDING = 6.0
"""platypus' default padding inside the page's frame, on every side."""
FRAME_WIDTH = A4[0] - 2 * MARGIN - 2 * FRAME_PADDING


class _Styles:
    """The paragraph styles of one document, on the report's typeface."""

    def __init__(self, face: Typeface) -> None:
        self.title = ParagraphStyle("title", fontName=face.bold, fontSize=24, leading=30, spaceAfter=18)
        self.heading = ParagraphStyle("heading", fontName=face.bold, fontSize=15, leading=20, spaceAfter=10)
        self.body = ParagraphStyle("body", fontName=face.regular, fontSize=10.5, leading=14)
        self.label = ParagraphStyle("label", parent=self.body, fontName=face.bold)
        self.notice = ParagraphStyle("notice", parent=self.body, fontSize=13, leading=18, spaceBefore=24)


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
    counter = Progress(progress, len(rows))
    story: list[Flowable] = [_Bookmark("cover", words.cover), *_cover(header, title, filters, styles, face)]
    if rows:
        stats = summarize(rows, header.requested_at, tz)
        story += [PageBreak(), *_summary(stats, header.locale, words, styles, face, tz)]
        heading = Paragraph(escape(words.table), styles.heading)
        room = doc.height - 2 * FRAME_PADDING
        space = TableSpace(first=room - heading.wrap(FRAME_WIDTH, room)[1] - styles.heading.spaceAfter, rest=room)
        story += [PageBreak(), _Bookmark("table", words.table), heading]
        # no other reference to the page tables: platypus frees each one once it is drawn
        story += table_pages(rows, words, face, header.locale, tz, counter, space)
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
    table = Table(cells, colWidths=(110, FRAME_WIDTH - 110))
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
    width = FRAME_WIDTH
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


def _markup(text: str, face: Typeface) -> str:
    """Plain text as Paragraph markup: drawable characters only, XML escaped."""
    return escape(face.drawable(text))
