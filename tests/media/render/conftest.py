"""Report rows made for the renderer tests, and poppler-utils (`make pdf-tools`) to read PDFs back."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from media.reports.model import Locale, PocRow, ReportFilters, ReportHeader

REQUESTED_AT = datetime(2026, 12, 5, 17, 30, tzinfo=UTC)
LONG_NAME = " ".join(["Integração contínua de pagamentos instantâneos"] * 7)[:300]
SPECIAL_NAMES = (
    "Integração São Paulo",
    "Conciliação de cartões — ações, opções e preços",
    "Café com pão: ç ã õ é á í ó ú â ê ô à ü",
    "Foguete 🚀 lançamento",
    "東京 gateway",
    'Ünïcödé <b>not bold</b> & "quotes"',
    LONG_NAME,
)
LANGUAGES = ("Python", "Go", "Rust", "Kotlin", "TypeScript", "Java", "C#", "Elixir", "Ruby", "Scala", "Swift", "Zig")
TAGS = (*(f"tag-{n:02d}" for n in range(30)), "pix", "open-finance", "kafka")
WORDS = ("pix", "boleto", "conciliação", "cartão", "integração", "São", "Paulo", "gateway", "câmbio", "serviço")


def header(locale: Locale, **overrides: object) -> ReportHeader:
    values: dict[str, object] = {
        "tenant_name": "Banco São Paulo",
        "user_name": "Maria Conceição",
        "requested_at": REQUESTED_AT,
        "locale": locale,
        "filters": ReportFilters(
            language="Python", tags=("pix", "open-finance"), created_from="2026-01-01", created_to="2026-03-31"
        ),
    }
    values.update(overrides)
    return ReportHeader(**values)  # type: ignore[arg-type]


def make_rows(count: int, seed: int = 13) -> list[PocRow]:
    """`count` POCs, the special names first (accents, emoji, CJK, markup, 300 characters), many tags."""
    pick = random.Random(seed)
    rows = []
    for index in range(count):
        if index < len(SPECIAL_NAMES):
            name = SPECIAL_NAMES[index]
        else:
            name = f"POC {index} " + " ".join(pick.choice(WORDS) for _ in range(pick.randint(1, 9)))
        tags = tuple(TAGS) if index == 1 else tuple(pick.sample(TAGS, pick.randint(0, 6)))
        rows.append(
            PocRow(
                id=str(uuid.UUID(int=pick.getrandbits(128))),
                name=name,
                description=f'Descrição {index}, com vírgula e "aspas"\nsegunda linha',
                github_url=f"https://github.com/acme-{index % 17}/repositorio-{index}",
                language=pick.choice(LANGUAGES),
                tags=tags,
                owner_id=f"user-{index % 9}",
                created_at=REQUESTED_AT - timedelta(days=pick.randint(0, 500), minutes=pick.randint(0, 1440)),
            )
        )
    return rows


@pytest.fixture(scope="session")
def poppler() -> None:
    missing = [tool for tool in ("pdftotext", "pdfinfo", "pdftoppm", "pdftohtml") if shutil.which(tool) is None]
    if missing:
        # Fail, not skip: `make test` installs it, so a missing tool is a broken install, not an option.
        pytest.fail(f"poppler-utils missing ({', '.join(missing)}): run `make pdf-tools`")


def run(*command: str | Path) -> str:
    return subprocess.run([str(part) for part in command], check=True, capture_output=True, text=True).stdout


def pdf_info(path: Path) -> dict[str, str]:
    fields = {}
    for line in run("pdfinfo", path).splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def pdf_pages(path: Path) -> list[str]:
    """The text of every page (pdftotext, reading order), whitespace runs collapsed to one space."""
    pages = run("pdftotext", "-enc", "UTF-8", path, "-").split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return [squeeze(page) for page in pages]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
