"""The video's own words in pt-BR and en. Dates, month names and numbers are written as the reports write
them (`media.reports.locale`: pt-BR `05/12/2026`, en `Dec 5, 2026`)."""

from __future__ import annotations

from dataclasses import dataclass

from media.reports.model import Locale


@dataclass(frozen=True, slots=True)
class Texts:
    title: str
    last_12_months: str
    poc_count_one: str
    poc_count_many: str
    created_on: str
    more_one: str
    more_many: str
    stats_title: str
    per_language: str
    per_month: str
    other_languages_one: str
    other_languages_many: str
    empty_title: str
    empty_body: str
    outro_title: str
    outro_body: str

    def poc_count(self, count: int) -> str:
        return (self.poc_count_one if count == 1 else self.poc_count_many).format(count=count)

    def more(self, count: int) -> str:
        return (self.more_one if count == 1 else self.more_many).format(count=count)

    def other_languages(self, count: int) -> str:
        return (self.other_languages_one if count == 1 else self.other_languages_many).format(count=count)


_PT_BR = Texts(
    title="Seu ano em POCs",
    last_12_months="Últimos 12 meses",
    poc_count_one="{count} POC",
    poc_count_many="{count} POCs",
    created_on="Criado em {date}",
    more_one="… e mais {count} POC",
    more_many="… e mais {count} POCs",
    stats_title="Em números",
    per_language="POCs por linguagem",
    per_month="POCs por mês",
    other_languages_one="+ {count} POC em outras linguagens",
    other_languages_many="+ {count} POCs em outras linguagens",
    empty_title="Nenhum POC neste período",
    empty_body="Crie seu primeiro POC e ele aparece aqui no próximo vídeo.",
    outro_title="Obrigado, {name}!",
    outro_body="Continue criando no POC Dojo",
)

_EN = Texts(
    title="Your year in POCs",
    last_12_months="Last 12 months",
    poc_count_one="{count} POC",
    poc_count_many="{count} POCs",
    created_on="Created {date}",
    more_one="… and {count} more POC",
    more_many="… and {count} more POCs",
    stats_title="By the numbers",
    per_language="POCs per language",
    per_month="POCs per month",
    other_languages_one="+ {count} POC in other languages",
    other_languages_many="+ {count} POCs in other languages",
    empty_title="No POCs in this period",
    empty_body="Create your first POC and it will show up here in your next video.",
    outro_title="Thank you, {name}!",
    outro_body="Keep building on POC Dojo",
)

_TEXTS: dict[Locale, Texts] = {"pt-BR": _PT_BR, "en": _EN}


def texts_for(locale: Locale) -> Texts:
    return _TEXTS[locale]
