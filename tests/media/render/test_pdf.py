"""The PDF report read back with poppler: every name, accents exact; page N of M; outline; metadata; links."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from media.reports.fonts import typeface
from media.reports.locale import texts
from media.reports.model import LOCALES, Locale, PocRow, ReportFilters
from media.reports.pdf import write_pdf
from media.reports.pdf_table import repository
from tests.media.render.conftest import LONG_NAME, header, make_rows, pdf_info, pdf_pages, run, squeeze

pytestmark = pytest.mark.usefixtures("poppler")

ROWS = make_rows(250)


def render(path: Path, locale: Locale, rows: Sequence[PocRow], **overrides: object) -> list[tuple[int, int]]:
    calls: list[tuple[int, int]] = []
    with path.open("wb") as out:
        write_pdf(header(locale, **overrides), rows, out, lambda done, total: calls.append((done, total)))
    return calls


@pytest.fixture(scope="module", params=LOCALES)
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Locale, Path]:
    locale: Locale = request.param
    path = tmp_path_factory.mktemp(f"pdf-{locale}") / "report.pdf"
    render(path, locale, ROWS)
    return locale, path


def test_every_name_is_in_the_text_with_its_accents(report: tuple[Locale, Path]) -> None:
    _locale, path = report
    text = " ".join(pdf_pages(path))
    face = typeface()
    missing = [row.name for row in ROWS if squeeze(face.drawable(row.name)) not in text]
    assert missing == []
    for exact in ("Integração São Paulo", "Café com pão: ç ã õ é á í ó ú â ê ô à ü", squeeze(LONG_NAME)):
        assert exact in text
    # what the font cannot draw is replaced, not dropped or crashed on; markup is text, not markup
    assert "Foguete ? lançamento" in text
    assert "?? gateway" in text
    assert 'Ünïcödé <b>not bold</b> & "quotes"' in text
    assert "Banco São Paulo" in text
    assert "Maria Conceição" in text


def test_page_n_of_m_on_every_page_and_the_page_count(report: tuple[Locale, Path]) -> None:
    locale, path = report
    pages = pdf_pages(path)
    count = int(pdf_info(path)["Pages"])
    assert len(pages) == count
    # cover, summary and charts, then the table: 250 rows with long names need several pages
    assert count >= 6
    label = texts(locale).page_of
    for number, page in enumerate(pages, start=1):
        assert label.format(page=number, pages=count) in page
    assert label.format(page=1, pages=count) in pages[0]
    assert label.format(page=count, pages=count) in pages[-1]
    # the table's header repeats on each of its pages; its last row is on the last page
    words = texts(locale)
    for page in pages[2:]:
        assert page.startswith(words.table) or page.startswith(words.col_name)
        for column in (words.col_language, words.col_tags, words.col_created, words.col_github):
            assert f" {column} " in page
    assert squeeze(ROWS[-1].name) in pages[-1]


def test_each_table_page_is_filled_and_nothing_crosses_the_bottom_margin(report: tuple[Locale, Path]) -> None:
    """The table is paginated by us (rows packed by measured height); platypus, the judge, must never
    have had to split one of those page tables again: no text below the frame, each
    page but the last filled to within one row of the bottom, every row once."""
    _locale, path = report
    page_height = 841.89
    frame_bottom = page_height - 54 - 6  # bottom margin, frame padding (PDF y grows downwards here)
    tallest_row = 100  # the 300-character name: 9 lines of 10 pt and padding
    xml = run("pdftotext", "-bbox", "-f", "3", path, "-")
    pages = xml.split("<page ")[1:]
    lowest = [
        max(float(y) for y in re.findall(r'yMax="([\d.]+)"', page) if float(y) < frame_bottom + 20) for page in pages
    ]
    assert all(y <= frame_bottom + 1 for y in lowest)
    assert all(y >= frame_bottom - tallest_row for y in lowest[:-1])
    repositories = re.findall(r">acme-\d+/repositorio-(\d+)<", xml)
    assert [int(n) for n in repositories] == list(range(len(ROWS)))


def test_cover_summary_and_charts_speak_the_locale(report: tuple[Locale, Path]) -> None:
    locale, path = report
    pages = pdf_pages(path)
    words = texts(locale)
    if locale == "pt-BR":
        assert "Linguagem: Python · Tags: pix, open-finance · Criados de 01/01/2026 a 31/03/2026" in pages[0]
        assert "05/12/2026 14:30 (America/Sao_Paulo)" in pages[0]
        assert "jan 2026" in pages[1]
    else:
        assert "Language: Python · Tags: pix, open-finance · Created from Jan 1, 2026 to Mar 31, 2026" in pages[0]
        assert "Dec 5, 2026, 2:30 PM (America/Sao_Paulo)" in pages[0]
        assert "Jan 2026" in pages[1]
    assert words.default_title in pages[0]
    for label in (words.summary, words.poc_count, words.owners, words.chart_languages, words.chart_tags):
        assert label in pages[1]
    assert words.chart_months in pages[1]


def test_outline_metadata_language_and_links(report: tuple[Locale, Path]) -> None:
    locale, path = report
    words = texts(locale)
    info = pdf_info(path)
    assert info["Title"] == words.default_title
    assert info["Author"] == "Maria Conceição"
    assert info["Creator"] == "POC Dojo"
    assert info["Subject"].startswith("Banco São Paulo · ")
    outline = re.findall(r'<item page="(\d+)">([^<]*)</item>', run("pdftohtml", "-xml", "-i", "-stdout", "-q", path))
    assert outline == [("1", words.cover), ("2", words.summary), ("2", words.charts), ("3", words.table)]
    assert f"/Lang ({locale})".encode() in path.read_bytes()
    urls = {line.split()[-1] for line in run("pdfinfo", "-url", path).splitlines()[1:]}
    assert urls == {row.github_url for row in ROWS}
    assert repository(ROWS[0].github_url) == "acme-0/repositorio-0"


def test_a_table_page_renders_as_an_image(report: tuple[Locale, Path], tmp_path: Path) -> None:
    locale, path = report
    run("pdftoppm", "-png", "-r", "50", "-f", "3", "-l", "3", path, tmp_path / f"page-{locale}")
    [png] = tmp_path.glob("page-*.png")
    with Image.open(png) as image:
        gray = image.convert("L")
        assert gray.size == (414, 585)  # A4 at 50 dpi
        dark = sum(gray.histogram()[:128])
        # right of the frame (40 pt margin + 6 pt padding), above the footer: blank (the table fits)
        scale = 50 / 72
        right_of_frame = gray.crop((round((595.28 - 45) * scale), 0, gray.size[0], round(790 * scale)))
        assert right_of_frame.getextrema() == (255, 255)
    assert dark > 2000  # text and rules drawn, not a blank page


def test_progress_follows_the_rows_to_the_end(tmp_path: Path) -> None:
    calls = render(tmp_path / "r.pdf", "en", ROWS)
    assert calls[-1] == (250, 250)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert len(calls) > 10
    assert {total for _, total in calls} == {250}


@pytest.mark.parametrize("locale", LOCALES)
def test_no_matching_poc_is_a_valid_pdf_that_says_so(locale: Locale, tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    calls = render(path, locale, [], title="Relatório trimestral — ações", filters=ReportFilters())
    pages = pdf_pages(path)
    words = texts(locale)
    assert pdf_info(path)["Pages"] == "1"
    assert words.no_match in pages[0]
    assert words.all_pocs in pages[0]
    assert "Relatório trimestral — ações" in pages[0]
    assert words.page_of.format(page=1, pages=1) in pages[0]
    assert calls == [(0, 0)]


def test_an_unbroken_long_name_and_repository_wrap_inside_their_cells(tmp_path: Path) -> None:
    owner, repo = "o" * 39, "r" * 100  # GitHub's longest owner and repository names
    word = "Integração" + "x" * 150 + "fim"
    row = dataclasses.replace(ROWS[10], name=word, github_url=f"https://github.com/{owner}/{repo}")
    path = tmp_path / "long.pdf"
    render(path, "pt-BR", [row])
    text = "".join(run("pdftotext", "-f", "3", path, "-").split())
    assert word in text
    assert f"{owner}/{repo}" in text
    xml = run("pdftotext", "-bbox", "-f", "3", path, "-")
    assert max(float(x) for x in re.findall(r'xMax="([\d.]+)"', xml)) <= 595.28 - 40 - 6
    assert pdf_info(path)["Pages"] == "3"
    assert f'<a href="https://github.com/{owner}/{repo}"' not in text  # a link, not markup shown as text
    assert run("pdfinfo", "-url", path).splitlines()[1].endswith(f"https://github.com/{owner}/{repo}")
