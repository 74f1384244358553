"""Report renderer benchmark: time and peak RSS of the PDF and CSV renderers, as the media worker runs them.

    .venv/bin/python bench/report_render.py [--cases pdf:10000,csv:10000,csv:1000,csv:100000]

Each case runs in a fresh Python process (so its peak RSS is its own): it makes the POCs (names with
accents, 0-6 tags, dates over 500 days; `pdf-wrap`: ~130-character names and 8-14 tags, so that every
name and tag cell wraps, the worst case), imports the renderer, notes its RSS, then renders into a
temporary file (the worker renders into one too) and reports the wall and CPU time of the rendering
alone (the machine may be shared: CPU time is the steadier figure), the
process's peak RSS (`ru_maxrss`), the RSS before rendering, and the file's size. The PDF gets its rows
as a list (`write_pdf` takes a Sequence); the CSV gets them from a generator, as the worker streams the
export's pages, so its memory should not depend on the row count.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CASES = "pdf:10000,pdf-wrap:10000,csv:10000,csv:1000,csv:100000"
WORDS = ("pix", "boleto", "conciliação", "cartão", "integração", "São", "Paulo", "gateway", "câmbio", "serviço")
LANGUAGES = ("Python", "Go", "Rust", "Kotlin", "TypeScript", "Java", "C#", "Elixir", "Ruby", "Scala", "Swift")
TAGS = (*(f"tag-{n:02d}" for n in range(40)), "pix", "open-finance", "kafka")


def rows(count: int, wrapping: bool = False) -> Iterator[object]:
    """`count` POCs; `wrapping`: long names (~130 characters) and 8-14 tags, so that every cell wraps."""
    from media.reports.model import PocRow

    pick = random.Random(42)
    now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    for index in range(count):
        yield PocRow(
            id=str(uuid.UUID(int=pick.getrandbits(128))),
            name=f"POC {index} "
            + " ".join(pick.choice(WORDS) for _ in range(pick.randint(14, 18) if wrapping else pick.randint(1, 9))),
            description=f"Descrição do POC {index}, com vírgula",
            github_url=f"https://github.com/acme-{index % 50}/repositorio-{index}",
            language=pick.choice(LANGUAGES),
            tags=tuple(pick.sample(TAGS, pick.randint(8, 14) if wrapping else pick.randint(0, 6))),
            owner_id=f"user-{index % 40}",
            created_at=now - timedelta(days=pick.randint(0, 500), minutes=pick.randint(0, 1440)),
        )


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def child(kind: str, count: int) -> dict[str, float]:
    """One case, in this process; the figures as a dict."""
    from media.reports.csv_report import write_csv
    from media.reports.fonts import typeface
    from media.reports.model import ReportFilters, ReportHeader
    from media.reports.pdf import write_pdf

    typeface()
    header = ReportHeader(
        tenant_name="Banco São Paulo",
        user_name="Maria Conceição",
        requested_at=datetime(2026, 12, 5, 12, tzinfo=UTC),
        locale="pt-BR",
        filters=ReportFilters(language="Python"),
    )
    source = list(rows(count, kind == "pdf-wrap")) if kind.startswith("pdf") else rows(count)
    before = _rss_now_mb()
    with tempfile.NamedTemporaryFile(suffix=f".{kind[:3]}") as out:
        started, cpu_started = time.perf_counter(), time.process_time()
        if kind.startswith("pdf"):
            write_pdf(header, source, out, lambda done, total: None)  # type: ignore[arg-type]
        else:
            write_csv(header, source, out, progress=lambda done, total: None)  # type: ignore[arg-type]
        out.flush()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        size = Path(out.name).stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mb": peak,
        "rss_before_mb": before,
        "size_mb": size / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=DEFAULT_CASES, help="kind:rows,... (kind: pdf, pdf-wrap or csv)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, count = args.child.split(":")
        print(json.dumps(child(kind, int(count))))
        return
    print(f"{'case':<8}{'rows':>9}{'time s':>9}{'CPU s':>8}{'peak RSS MB':>13}{'RSS before MB':>15}{'file MB':>9}")
    for case in args.cases.split(","):
        kind, count = case.split(":")
        done = subprocess.run(
            [sys.executable, __file__, "--child", case], capture_output=True, text=True, check=True, cwd=ROOT
        )
        figures = json.loads(done.stdout)
        print(
            f"{kind:<8}{int(count):>9,}{figures['seconds']:>9.2f}{figures['cpu_seconds']:>8.2f}"
            f"{figures['peak_rss_mb']:>13.1f}"
            f"{figures['rss_before_mb']:>15.1f}{figures['size_mb']:>9.1f}"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
