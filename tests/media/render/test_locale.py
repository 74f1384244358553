"""The reports' words, dates and numbers in pt-BR and English."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from media.errors import RenderError
from media.reports.locale import (
    describe_filters,
    format_date,
    format_datetime,
    format_day,
    format_number,
    month_label,
    texts,
    zone,
)
from media.reports.model import LOCALES, ReportFilters
from media.reports.stats import last_months

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def test_numbers_and_days() -> None:
    assert format_number(10_000, "pt-BR") == "10.000"
    assert format_number(10_000, "en") == "10,000"
    assert format_number(1_234_567, "pt-BR") == "1.234.567"
    assert format_number(999, "en") == "999"
    assert format_day(date(2026, 12, 5), "pt-BR") == "05/12/2026"
    assert format_day(date(2026, 12, 5), "en") == "Dec 5, 2026"


def test_dates_are_shown_in_the_report_timezone() -> None:
    moment = datetime(2026, 12, 5, 1, 30, tzinfo=UTC)  # 22:30 on the 4th in São Paulo (UTC-3)
    assert format_date(moment, "pt-BR", SAO_PAULO) == "04/12/2026"
    assert format_date(moment, "en", UTC) == "Dec 5, 2026"
    assert format_datetime(moment, "pt-BR", SAO_PAULO) == "04/12/2026 22:30"
    assert format_datetime(moment, "en", SAO_PAULO) == "Dec 4, 2026, 10:30 PM"
    assert format_datetime(datetime(2026, 1, 2, 0, 5, tzinfo=UTC), "en", UTC) == "Jan 2, 2026, 12:05 AM"


def test_filters_in_words() -> None:
    filters = ReportFilters(
        language="Python", tags=("pix", "open-finance"), created_from="2026-01-01", created_to="2026-03-31"
    )
    assert (
        describe_filters(filters, "pt-BR", SAO_PAULO)
        == "Linguagem: Python · Tags: pix, open-finance · Criados de 01/01/2026 a 31/03/2026"
    )
    assert (
        describe_filters(filters, "en", SAO_PAULO)
        == "Language: Python · Tags: pix, open-finance · Created from Jan 1, 2026 to Mar 31, 2026"
    )
    assert describe_filters(ReportFilters(), "pt-BR", SAO_PAULO) == "Todos os POCs"
    assert describe_filters(ReportFilters(), "en", SAO_PAULO) == "All POCs"
    assert describe_filters(ReportFilters(sort="name"), "en", SAO_PAULO) == "All POCs · Order: name (A–Z)"
    assert describe_filters(ReportFilters(q="pagamento pix", owner="me"), "pt-BR", SAO_PAULO) == (
        'Busca: "pagamento pix" · Meus POCs'
    )
    named = ReportFilters(owner="u-1", created_from="2026-02-01T12:00:00Z")
    assert describe_filters(named, "en", SAO_PAULO, {"u-1": "João"}) == (
        "Owner: João · Created from Feb 1, 2026, 9:00 AM"
    )
    assert describe_filters(ReportFilters(created_to="2026-03-31"), "pt-BR", SAO_PAULO) == "Criados até 31/03/2026"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_text_is_set_and_page_of_ends_with_the_total(locale: str) -> None:
    words = texts(locale)  # type: ignore[arg-type]
    assert words.page_of.endswith("{pages}")
    assert len(words.months) == 12
    assert set(words.sorts) == {"-created_at", "created_at", "name", "-name", "relevance"}
    assert all(getattr(words, field.name) for field in dataclasses.fields(words))


def test_the_twelve_months_up_to_the_request() -> None:
    months = last_months(datetime(2026, 12, 1, 1, 0, tzinfo=UTC), SAO_PAULO)  # still November there
    assert months[0] == (2025, 12)
    assert months[-1] == (2026, 11)
    assert len(months) == 12
    assert month_label(2026, 2, "pt-BR") == "fev 2026"
    assert month_label(2026, 2, "en") == "Feb 2026"


def test_an_unknown_timezone_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="unknown timezone"):
        zone("Mars/Olympus_Mons")
