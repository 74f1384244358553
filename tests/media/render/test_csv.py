"""The CSV report parsed back: same rows, RFC 4180 framing, BOM option, formulas neutralized, flat memory."""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from media.reports.csv_report import write_csv
from media.reports.model import LOCALES, Locale, PocRow
from tests.media.render.conftest import REQUESTED_AT, header, make_rows

ROWS = make_rows(300)
HEADERS = {
    "pt-BR": ["Nome", "Linguagem", "Tags", "Criado em", "URL do GitHub", "Descrição", "ID"],
    "en": ["Name", "Language", "Tags", "Created", "GitHub URL", "Description", "ID"],
}


Written = tuple[bytes, int, list[tuple[int, int]]]


def written(rows: list[PocRow], locale: Locale = "en", *, bom: bool = False) -> Written:
    out = io.BytesIO()
    calls: list[tuple[int, int]] = []
    count = write_csv(header(locale), rows, out, bom=bom, progress=lambda done, total: calls.append((done, total)))
    return out.getvalue(), count, calls


def parsed(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def local_day(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(header("en").timezone)).date().isoformat()


def as_cells(row: PocRow) -> list[str]:
    day = local_day(row.created_at)
    return [row.name, row.language, ";".join(row.tags), day, row.github_url, row.description, row.id]


@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("locale", LOCALES)
def test_parsed_back_it_equals_the_rows(locale: Locale, bom: bool) -> None:
    data, count, calls = written(ROWS, locale, bom=bom)
    assert data.startswith(codecs.BOM_UTF8) is bom
    table = parsed(data.removeprefix(codecs.BOM_UTF8))
    assert table[0] == HEADERS[locale]
    assert table[1:] == [as_cells(row) for row in ROWS]
    assert count == len(ROWS)
    assert calls == [(len(ROWS), len(ROWS))]


def test_rfc_4180_framing() -> None:
    row = dataclasses.replace(ROWS[0], name='Say "hi", then go', description="line one\nline two")
    data, _, _ = written([row])
    lines = data.split(b"\r\n")
    assert lines[0] == b"Name,Language,Tags,Created,GitHub URL,Description,ID"
    assert lines[1].startswith(b'"Say ""hi"", then go",')
    assert b'"line one\nline two"' in data  # a line break inside a quoted field stays as it is
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == data.count(b"\r\n") + 1


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+55 11 9999", "'+55 11 9999"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("São = Paulo", "São = Paulo"),
    ],
)
def test_formula_cells_are_neutralized(value: str, cell: str) -> None:
    row = dataclasses.replace(ROWS[0], name=value, description=value, language=value, tags=(value.strip(),))
    data, _, _ = written([row])
    [_, cells] = parsed(data)
    assert cells[0] == cell
    assert cells[1] == cell
    assert cells[5] == cell


def test_created_is_the_iso_date_in_the_report_timezone() -> None:
    late = dataclasses.replace(ROWS[0], created_at=datetime(2026, 12, 5, 1, 30, tzinfo=UTC))
    data, _, _ = written([late])
    assert parsed(data)[1][3] == "2026-12-04"  # 22:30 the day before in São Paulo


class _Discard(io.RawIOBase):
    """A sink that keeps nothing: the memory measured is the writer's only."""

    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.size += len(data)
        return len(data)


def _stream(count: int) -> Iterator[PocRow]:
    template = ROWS[10]
    for index in range(count):
        yield dataclasses.replace(template, id=f"poc-{index}", name=f"{template.name} {index}")


def _peak(count: int) -> tuple[int, int, list[tuple[int, int]]]:
    sink = _Discard()
    calls: list[tuple[int, int]] = []
    tracemalloc.start()
    try:
        written_rows = write_csv(
            header("pt-BR"), _stream(count), sink, progress=lambda done, total: calls.append((done, total))
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written_rows == count
    assert sink.size > count * 100
    return peak, sink.size, calls


def test_memory_is_flat_in_the_row_count() -> None:
    small, _, _ = _peak(1_000)
    large, size, calls = _peak(100_000)
    assert size > 20_000_000
    assert large < 1_000_000  # the rows' bytes (20+ MB) never accumulate
    assert large < small + 200_000
    assert calls[-1] == (100_000, 100_000)
    assert calls[0] == (1_000, 1_000)  # a stream has no length: the total grows with it
    assert len(calls) == 101


def test_no_rows_is_the_header_row_alone() -> None:
    # the CSV carries the rows only: its header row is the column names, nothing about the request
    data, count, calls = written([], "pt-BR")
    assert (count, calls) == (0, [(0, 0)])
    assert parsed(data) == [HEADERS["pt-BR"]]
    assert REQUESTED_AT.isoformat() not in data.decode()
