"""The CSV report: one header row in the report's locale, then one row per POC, streamed.

Format (RFC 4180): comma-separated, CRLF line ends, a field is quoted when it holds a comma, a quote,
CR or LF, and quotes inside it are doubled. UTF-8, with a byte order mark first when asked (`bom=True`:
Excel then reads the file as UTF-8).

Columns: name, language, tags, created (the ISO 8601 date, `2026-12-05`, in the report's timezone),
GitHub URL, description, id. Tags are joined by `;` without spaces (tags are slugs of letters, digits
and `-`, so the separator never occurs inside one).

Formula injection (OWASP's "CSV injection"): a cell whose first character is `=`, `+`, `-`, `@`, a tab
or a carriage return would be run as a formula by a spreadsheet, so it is written with a `'` in front
(`=HYPERLINK(...)` becomes `'=HYPERLINK(...)`). Every column goes through this rule, the header too.

Streaming: each row is written to `out` (through an 8 KiB text buffer) as it comes from `rows`; nothing
holds the rows, so memory stays flat however many there are.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Sized
from typing import BinaryIO

from media.reports.locale import texts, zone
from media.reports.model import PocRow, ProgressSink, ReportHeader

TAG_SEPARATOR = ";"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
PROGRESS_EVERY = 1000


def neutralized(value: str) -> str:
    """`value`, with a `'` in front when a spreadsheet would take it for a formula."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def write_csv(
    header: ReportHeader, rows: Iterable[PocRow], out: BinaryIO, *, bom: bool = False, progress: ProgressSink
) -> int:
    """Write the CSV report of `rows` into `out` (see the module doc); returns the number of POC rows.

    `progress(done, total)` every 1,000 rows and once at the end; `total` is `len(rows)` when `rows` has
    a length, else the rows seen so far."""
    words = texts(header.locale)
    tz = zone(header.timezone)
    known_total = len(rows) if isinstance(rows, Sized) else None
    if bom:
        out.write(codecs.BOM_UTF8)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    writer = csv.writer(text, dialect="excel", lineterminator="\r\n")
    columns = [
        words.col_name,
        words.col_language,
        words.col_tags,
        words.col_created,
        words.col_github_url,
        words.col_description,
        words.col_id,
    ]
    writer.writerow([neutralized(column) for column in columns])
    done = 0
    try:
        for row in rows:
            writer.writerow(
                [
                    neutralized(row.name),
                    neutralized(row.language),
                    neutralized(TAG_SEPARATOR.join(row.tags)),
                    row.created_at.astimezone(tz).date().isoformat(),
                    neutralized(row.github_url),
                    neutralized(row.description),
                    neutralized(row.id),
                ]
            )
            done += 1
            if done % PROGRESS_EVERY == 0:
                progress(done, known_total if known_total is not None else done)
        text.flush()
    finally:
        text.detach()  # `out` is the caller's: flushed, never closed here
    progress(done, done if known_total is None else known_total)
    return done
