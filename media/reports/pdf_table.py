"""The PDF's table of POCs, paginated by us: one small table per page, each with the header row.

Why not one platypus `LongTable` split across pages: each split rebuilds a table of all the rows still
to place and sums their heights again, so its cost grows with rows × pages (10,000 rows with wrapped
cells took ~11 s of CPU, over half of it in splitting). Here every row's height is measured once
(`Paragraph.wrap` for a cell that wraps, one line otherwise), rows are packed greedily into pages of a
known height, and each page becomes a `Table` with those row heights given, followed by a page break:
linear in the row count, and the header is on every page by construction.

Cells: the name, the tags and the link are one `drawString` when they fit on one line, a Paragraph
(which wraps, and splits a word longer than the column) when they do not. The link cell shows
`owner/repo` with a link annotation to the repository's URL. Drawing a row's name cell counts the row
as done for the progress sink.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, PageBreak, Paragraph, Table, TableStyle

from media.reports.charts import fit
from media.reports.fonts import Typeface
from media.reports.locale import Texts, format_date
from media.reports.model import Locale, PocRow, ProgressSink

CELL_SIZE = 8.0
LEADING = CELL_SIZE + 2
PADDING_X = 5.0
"""Left and right; wide enough that text extraction (pdftotext) keeps neighbouring columns apart."""
PADDING_TOP, PADDING_BOTTOM = 2.0, 3.0
COLUMNS = (166.0, 60.0, 126.0, 55.0, 96.0)
"""name, language, tags, created, GitHub: 503 pt, an A4 frame's width between 40 pt margins."""
FIT_SLACK = 1.0
"""Points kept free on each page, against rounding in platypus' own sums."""
PROGRESS_STEPS = 200
LINK_COLOR = colors.HexColor("#1f5fbf")
RULE_COLOR = colors.HexColor("#c8ccd2")
HEADER_FILL = colors.HexColor("#e9edf2")


class Progress:
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


class _Line(Flowable):
    """A cell's text when it fits on one line: one `drawString` (a Paragraph costs ~20x more).

    Placed like a Paragraph's first line (baseline `CELL_SIZE` below the top); `url` makes it a link;
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
        self.height = LEADING
        return self.width, self.height

    def draw(self) -> None:
        self.canv.setFont(self.font, CELL_SIZE)
        self.canv.setFillColor(self.color)
        self.canv.drawString(0, self.height - CELL_SIZE, self.text)
        if self.url is not None:
            self.canv.linkURL(self.url, (0, 0, self.width, self.height), relative=1)
        if self.tick is not None:
            self.tick()


class _CountedParagraph(Paragraph):
    """A name cell that wraps: drawing it counts the row as done."""

    def __init__(self, text: str, style: ParagraphStyle, tick: Callable[[], None]) -> None:
        super().__init__(text, style)
        self._tick = tick

    def draw(self) -> None:
        super().draw()
        self._tick()


@dataclass(frozen=True, slots=True)
class TableSpace:
    """The height a page's table may take: on the first page (below the heading) and on the others."""

    first: float
    rest: float


def repository(url: str) -> str:
    """`owner/repo` of a GitHub URL (the URL itself when it has no path)."""
    path = urlsplit(url).path.strip("/")
    return path.removesuffix(".git") if path else url


class _Cells:
    """Makes and measures the cells of one document's rows."""

    def __init__(self, face: Typeface, locale: Locale, tz: tzinfo, progress: Progress) -> None:
        self.face = face
        self.locale = locale
        self.tz = tz
        self.progress = progress
        self.inner = [width - 2 * PADDING_X for width in COLUMNS]
        self.cell = ParagraphStyle("cell", fontName=face.regular, fontSize=CELL_SIZE, leading=LEADING)
        self.link = ParagraphStyle("link", parent=self.cell, textColor=LINK_COLOR)

    def _fits(self, text: str, column: int) -> bool:
        return stringWidth(text, self.face.regular, CELL_SIZE) <= self.inner[column]

    def row(self, poc: PocRow) -> tuple[list[Flowable | str], float]:
        """The cells of `poc` and the row's height."""
        face = self.face
        lines = 1.0
        name = face.drawable(poc.name)
        name_cell: Flowable
        if self._fits(name, 0):
            name_cell = _Line(name, face.regular, colors.black, tick=self.progress.tick)
        else:
            name_cell = _CountedParagraph(escape(name), self.cell, self.progress.tick)
            lines = max(lines, name_cell.wrap(self.inner[0], 1e6)[1] / LEADING)
        tags = face.drawable(", ".join(poc.tags))
        tags_cell: Flowable | str = tags
        if not self._fits(tags, 2):
            tags_cell = Paragraph(escape(tags), self.cell)
            lines = max(lines, tags_cell.wrap(self.inner[2], 1e6)[1] / LEADING)
        repo = face.drawable(repository(poc.github_url))
        link_cell: Flowable
        if self._fits(repo, 4):
            link_cell = _Line(repo, face.regular, LINK_COLOR, url=poc.github_url)
        else:
            href = escape(poc.github_url, {'"': "&quot;"})
            link_cell = Paragraph(f'<a href="{href}">{escape(repo)}</a>', self.link)
            lines = max(lines, link_cell.wrap(self.inner[4], 1e6)[1] / LEADING)
        cells: list[Flowable | str] = [
            name_cell,
            fit(face.drawable(poc.language), face.regular, CELL_SIZE, self.inner[1]),
            tags_cell,
            format_date(poc.created_at, self.locale, self.tz),
            link_cell,
        ]
        return cells, lines * LEADING + PADDING_TOP + PADDING_BOTTOM


def _pages(
    cells: _Cells, rows: Sequence[PocRow], space: TableSpace, header_height: float
) -> Iterator[tuple[list[list[Flowable | str]], list[float]]]:
    """Rows packed greedily into pages: (the page's rows, their heights)."""
    room = space.first - header_height - FIT_SLACK
    page: list[list[Flowable | str]] = []
    heights: list[float] = []
    for poc in rows:
        row, height = cells.row(poc)
        if page and height > room:
            yield page, heights
            page, heights = [], []
            room = space.rest - header_height - FIT_SLACK
        page.append(row)
        heights.append(height)
        room -= height
    if page:
        yield page, heights


def table_pages(
    rows: Sequence[PocRow],
    words: Texts,
    face: Typeface,
    locale: Locale,
    tz: tzinfo,
    progress: Progress,
    space: TableSpace,
) -> list[Flowable]:
    """The table of `rows`, one `Table` per page (header row first), page breaks between them."""
    cells = _Cells(face, locale, tz, progress)
    header: list[Flowable | str] = [
        words.col_name,
        words.col_language,
        words.col_tags,
        words.col_created,
        words.col_github,
    ]
    header_height = LEADING + PADDING_TOP + PADDING_BOTTOM
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, 0), face.bold, CELL_SIZE, LEADING),
            ("FONT", (0, 1), (-1, -1), face.regular, CELL_SIZE, LEADING),
            ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE_COLOR),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), PADDING_TOP),
            ("BOTTOMPADDING", (0, 0), (-1, -1), PADDING_BOTTOM),
            ("LEFTPADDING", (0, 0), (-1, -1), PADDING_X),
            ("RIGHTPADDING", (0, 0), (-1, -1), PADDING_X),
        ]
    )
    story: list[Flowable] = []
    for page, heights in _pages(cells, rows, space, header_height):
        if story:
            story.append(PageBreak())
        table = Table([header, *page], colWidths=COLUMNS, rowHeights=[header_height, *heights], repeatRows=1)
        table.setStyle(style)
        story.append(table)
    return story
