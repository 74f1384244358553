"""Every text of the reports, in pt-BR and English, and the dates and numbers as each locale writes them.

The renderers ask this module for words and never hold a sentence of their own, so a locale is one
`Texts` value and two small formatting rules (dates, thousands). Plain tables, no i18n library: the
reports use a few dozen strings, two locales, Gregorian dates and integers only.

- Dates are shown in the report's timezone (`ReportHeader.timezone`): pt-BR `05/12/2026`, en
  `Dec 5, 2026`; with a time, pt-BR `05/12/2026 14:30`, en `Dec 5, 2026, 2:30 PM`.
- Integers: pt-BR `10.000`, en `10,000`.
- The filters are said in words, e.g. "Linguagem: Python · Tags: pix, open-finance · Criados de
  01/01/2026 a 31/03/2026", or "Todos os POCs" when no filter narrows the search.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from media.errors import RenderError
from media.reports.model import Locale, ReportFilters


@dataclass(frozen=True, slots=True)
class Texts:
    """The words of one locale."""

    default_title: str
    # Cover
    tenant: str
    requested_by: str
    requested_at: str
    filters: str
    all_pocs: str
    no_match: str
    # Filters in words
    filter_query: str
    filter_language: str
    filter_tags: str
    filter_owner: str
    owner_me: str
    created_between: str
    created_from: str
    created_to: str
    filter_sort: str
    sorts: Mapping[str, str]
    # Summary
    summary: str
    poc_count: str
    languages: str
    tags: str
    owners: str
    first_created: str
    last_created: str
    # Charts
    charts: str
    chart_languages: str
    chart_tags: str
    chart_months: str
    other: str
    # Table (PDF) and columns (CSV)
    table: str
    col_name: str
    col_language: str
    col_tags: str
    col_created: str
    col_github: str
    col_github_url: str
    col_description: str
    col_id: str
    # Every page
    cover: str
    page_of: str
    """`{page}` and `{pages}` are replaced; `{pages}` comes last (the PDF draws the total once, at the end)."""
    months: tuple[str, ...]
    """Short month names, January first."""


PT_BR = Texts(
    default_title="Relatório de POCs",
    tenant="Organização",
    requested_by="Solicitado por",
    requested_at="Data",
    filters="Filtros",
    all_pocs="Todos os POCs",
    no_match="Nenhum POC corresponde a estes filtros.",
    filter_query='Busca: "{q}"',
    filter_language="Linguagem: {language}",
    filter_tags="Tags: {tags}",
    filter_owner="Dono: {owner}",
    owner_me="Meus POCs",
    created_between="Criados de {start} a {end}",
    created_from="Criados a partir de {start}",
    created_to="Criados até {end}",
    filter_sort="Ordem: {sort}",
    sorts={
        "-created_at": "mais recentes primeiro",
        "created_at": "mais antigos primeiro",
        "name": "nome (A–Z)",
        "-name": "nome (Z–A)",
        "relevance": "relevância",
    },
    summary="Resumo",
    poc_count="POCs",
    languages="Linguagens",
    tags="Tags",
    owners="Donos",
    first_created="Primeiro criado em",
    last_created="Último criado em",
    charts="Gráficos",
    chart_languages="POCs por linguagem",
    chart_tags="As 10 tags mais usadas",
    chart_months="POCs por mês (últimos 12 meses)",
    other="Outras",
    table="Lista de POCs",
    col_name="Nome",
    col_language="Linguagem",
    col_tags="Tags",
    col_created="Criado em",
    col_github="GitHub",
    col_github_url="URL do GitHub",
    col_description="Descrição",
    col_id="ID",
    cover="Capa",
    page_of="página {page} de {pages}",
    months=("jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez"),
)

EN = Texts(
    default_title="POC report",
    tenant="Organization",
    requested_by="Requested by",
    requested_at="Date",
    filters="Filters",
    all_pocs="All POCs",
    no_match="No POC matches these filters.",
    filter_query='Search: "{q}"',
    filter_language="Language: {language}",
    filter_tags="Tags: {tags}",
    filter_owner="Owner: {owner}",
    owner_me="My POCs",
    created_between="Created from {start} to {end}",
    created_from="Created from {start}",
    created_to="Created until {end}",
    filter_sort="Order: {sort}",
    sorts={
        "-created_at": "newest first",
        "created_at": "oldest first",
        "name": "name (A–Z)",
        "-name": "name (Z–A)",
        "relevance": "relevance",
    },
    summary="Summary",
    poc_count="POCs",
    languages="Languages",
    tags="Tags",
    owners="Owners",
    first_created="First created",
    last_created="Last created",
    charts="Charts",
    chart_languages="POCs per language",
    chart_tags="Top 10 tags",
    chart_months="POCs per month (last 12 months)",
    other="Others",
    table="POC list",
    col_name="Name",
    col_language="Language",
    col_tags="Tags",
    col_created="Created",
    col_github="GitHub",
    col_github_url="GitHub URL",
    col_description="Description",
    col_id="ID",
    cover="Cover",
    page_of="page {page} of {pages}",
    months=("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
)

_TEXTS: Mapping[Locale, Texts] = {"pt-BR": PT_BR, "en": EN}
FILTER_SEPARATOR = " · "


def texts(locale: Locale) -> Texts:
    """The words of `locale`."""
    return _TEXTS[locale]


def zone(name: str) -> tzinfo:
    """The IANA timezone `name`; a `RenderError` when unknown (the report cannot say its dates)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RenderError(f"unknown timezone {name!r}") from exc


def format_number(value: int, locale: Locale) -> str:
    """An integer with the locale's thousands separator: pt-BR `10.000`, en `10,000`."""
    grouped = f"{value:,}"
    return grouped.replace(",", ".") if locale == "pt-BR" else grouped


def format_day(day: date, locale: Locale) -> str:
    """A calendar day: pt-BR `05/12/2026`, en `Dec 5, 2026`."""
    if locale == "pt-BR":
        return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"
    return f"{EN.months[day.month - 1]} {day.day}, {day.year}"


def format_date(moment: datetime, locale: Locale, tz: tzinfo) -> str:
    """The day of a timezone-aware moment, in `tz`."""
    return format_day(moment.astimezone(tz).date(), locale)


def format_datetime(moment: datetime, locale: Locale, tz: tzinfo) -> str:
    """Day and time of a timezone-aware moment, in `tz`: pt-BR `05/12/2026 14:30`, en `Dec 5, 2026, 2:30 PM`."""
    local = moment.astimezone(tz)
    day = format_day(local.date(), locale)
    if locale == "pt-BR":
        return f"{day} {local.hour:02d}:{local.minute:02d}"
    hour = local.hour % 12 or 12
    return f"{day}, {hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def month_label(year: int, month: int, locale: Locale) -> str:
    """A month of the per-month chart: pt-BR `dez 2026`, en `Dec 2026`."""
    return f"{texts(locale).months[month - 1]} {year}"


def _bound(value: str, locale: Locale, tz: tzinfo) -> str:
    """A `created_from`/`created_to` filter as given (a date, or an RFC 3339 date-time) in words."""
    try:
        if len(value) == 10:
            return format_day(date.fromisoformat(value), locale)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value  # validated by the POC service already; shown as given rather than refused here
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment.astimezone(tz).time() == time.min:
        return format_date(moment, locale, tz)
    return format_datetime(moment, locale, tz)


def describe_filters(
    filters: ReportFilters, locale: Locale, tz: tzinfo, owner_names: Mapping[str, str] | None = None
) -> str:
    """The filters in words, joined by " · "; "Todos os POCs" / "All POCs" when none narrows the search."""
    words = texts(locale)
    parts: list[str] = []
    if filters.q:
        parts.append(words.filter_query.format(q=filters.q))
    if filters.language:
        parts.append(words.filter_language.format(language=filters.language))
    if filters.tags:
        parts.append(words.filter_tags.format(tags=", ".join(filters.tags)))
    if filters.owner:
        if filters.owner == "me":
            parts.append(words.owner_me)
        else:
            owner = (owner_names or {}).get(filters.owner, filters.owner)
            parts.append(words.filter_owner.format(owner=owner))
    start = _bound(filters.created_from, locale, tz) if filters.created_from else None
    end = _bound(filters.created_to, locale, tz) if filters.created_to else None
    if start and end:
        parts.append(words.created_between.format(start=start, end=end))
    elif start:
        parts.append(words.created_from.format(start=start))
    elif end:
        parts.append(words.created_to.format(end=end))
    if not parts:
        parts.append(words.all_pocs)
    if filters.sort:
        parts.append(words.filter_sort.format(sort=words.sorts.get(filters.sort, filters.sort)))
    return FILTER_SEPARATOR.join(parts)
