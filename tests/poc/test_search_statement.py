"""A search is one statement that sets the tenant context itself (`Database.tenant_fetch`): it must
answer exactly what the same SQL answers inside a `tenant_tx` transaction, for every query shape, on a
pool of ONE connection where tenants interleave and generic plans made for one tenant serve the other."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from poc_api import cursor as cursors
from poc_api.search import SERVER_SETTINGS, SearchParams, build, cursor_key, run
from runtime.db import Database
from tests.identity.harness import Account
from tests.poc.conftest import PocHarness, poc_fields, subject

WORDS = ("pagamentos", "kubernetes", "fraudes", "integração")
LANGUAGES = ("Python", "Go", "Java")
TAGS = ("payments", "pix", "kafka")


async def _catalogue(pocs: PocHarness, account: Account, size: int, label: str) -> None:
    for n in range(size):
        await pocs.create(
            account,
            **poc_fields(
                n,
                name=f"{label} {WORDS[n % 4]} {n}",
                description=f"Prova sobre {WORDS[(n + 1) % 4]} e {WORDS[(n + 2) % 4]}",
                language=LANGUAGES[n % 3],
                tags=[TAGS[n % 3], TAGS[(n + 1) % 3]] if n % 2 else [TAGS[n % 3]],
            ),
        )


def _searches(owner: str) -> list[SearchParams]:
    since = datetime.now(UTC) - timedelta(days=1)
    return [
        SearchParams(q="pagamentos", sort="relevance"),
        SearchParams(q="kubernets fraude", sort="relevance"),  # typo and prefix
        SearchParams(q="integracao", sort="-created_at", limit=3),
        SearchParams(q="pagamentos", sort="name"),
        SearchParams(language="Go"),
        SearchParams(language="Python", sort="name", limit=4),
        SearchParams(tags=("pix",)),
        SearchParams(tags=("pix", "payments"), sort="created_at"),
        SearchParams(q="pagamentos", language="Python", tags=("payments",), created_from=since, sort="relevance"),
        SearchParams(owner_id=owner, sort="-name", limit=5),
        SearchParams(sort="name", limit=2),
        SearchParams(limit=3),
    ]


def _next_page(params: SearchParams, rows: list[Any]) -> SearchParams | None:
    """The same search from the position after its page's last row (as the API pages)."""
    if len(rows) <= params.limit:
        return None
    key = cursor_key(params.sort, rows[params.limit - 1])
    print_ = cursors.fingerprint(params.fingerprint_parts())
    position = cursors.decode(cursors.encode(params.sort, print_, key), params.sort, print_)
    return SearchParams(**{**params.__dict__, "position": position})


async def test_one_statement_answers_what_the_transaction_answers(pocs: PocHarness) -> None:
    a = await pocs.tenant()
    b = await pocs.tenant()
    await _catalogue(pocs, a, 14, "Alfa")
    await _catalogue(pocs, b, 9, "Beta")
    searches = [(a, p) for p in _searches(subject(a))] + [(b, p) for p in _searches(subject(b))]
    async with Database(pocs.database.service, min_size=1, max_size=1, server_settings=SERVER_SETTINGS) as db:
        # What the same statements answer inside a tenant transaction (context set before they run).
        expected: list[list[str]] = []
        pages: list[tuple[Account, SearchParams]] = []
        for account, params in searches:
            sql, args = build(params)
            async with db.tenant_tx(account.tenant_id) as conn:
                rows = await conn.fetch(sql, account.tenant_id, *args)
                if rows and rows[0]["doc"] is None:  # a shortcut that could not prove its page
                    sql, args = build(params, shortcut=False)
                    rows = await conn.fetch(sql, account.tenant_id, *args)
            expected.append([row["doc"] for row in rows])
            follow = _next_page(params, rows)
            if follow is not None:
                pages.append((account, follow))
        for account, params in pages:
            sql, args = build(params)
            async with db.tenant_tx(account.tenant_id) as conn:
                expected.append([row["doc"] for row in await conn.fetch(sql, account.tenant_id, *args)])
        searches += pages
        assert len(pages) >= 4, "the catalogue should make several searches span pages"
        assert all(expected), "every search should find something"

        async def one(account: Account, params: SearchParams) -> list[str]:
            await asyncio.sleep(0)
            return [row["doc"] for row in await run(db, account.tenant_id, params)]

        # Three rounds, tenants interleaved on the single connection, in both orders.
        for order in (1, -1, 1):
            got = await asyncio.gather(*(one(account, params) for account, params in searches[::order]))
            assert got == expected[::order]
        ids = {account.tenant_id: {poc["id"] for poc in await pocs.search_all(account)} for account in (a, b)}
        for (account, _), docs in zip(searches, expected, strict=True):
            assert {json.loads(doc)["id"] for doc in docs} <= ids[account.tenant_id]
        async with db.global_tx() as conn:
            assert await conn.fetchval("SELECT current_setting('app.tenant_id', true)") in (None, "")
            assert await conn.fetchval("SELECT count(*) FROM poc.pocs") == 0


async def test_first_page_of_a_one_word_search_matches_the_full_ranking(pocs: PocHarness) -> None:
    """The first relevance page of a one-word search reads only the newest postings of each (term, in the
    name or not) group; later pages (cursor) aggregate every match. Paging one row at a time therefore
    compares the two: every first page must be the head of the full ranking."""
    admin = await pocs.tenant()
    words = ("pagamento", "pagamentos", "pagamnto", "pagamentoss", "Pagamento")
    for n in range(24):
        word = words[n % len(words)]
        in_name = n % 3 != 0
        await pocs.create(
            admin,
            **poc_fields(
                n,
                name=f"{word} {n}" if in_name else f"Prova {n}",
                description=f"sobre {words[(n + 2) % len(words)]}" if n % 2 else "outra coisa",
            ),
        )
    for q in ("pagamento", "pagamentos", "pagamnto"):
        one_by_one = await pocs.search_all(admin, q=q, limit=1)
        assert len(one_by_one) >= 15 and len({p["id"] for p in one_by_one}) == len(one_by_one)
        for limit in (1, 2, 5, 10, 100):
            page = (await pocs.search(admin, q=q, limit=limit)).json()
            assert page["items"] == one_by_one[:limit], (q, limit)
            assert (page["next_cursor"] is not None) == (len(one_by_one) > limit)


def _catalogue_of_two_words() -> list[tuple[str, str]]:
    """(name, description) in creation order: the POCs that match both words best are the oldest; many tie;
    some words match only descriptions, by prefix, or with a typo."""
    entries: list[tuple[str, str]] = []
    for n in range(64):
        if n < 6:  # both words, exactly, in the name: the top score, and the oldest
            entries.append((f"Pagamento e fraude {n}", "via cartao" if n < 2 else "Uma prova."))
        elif n < 18:  # a longer form of one word in the name, the other in the description
            entries.append((f"Pagamentos {n}", "contra fraudes"))
        elif n < 50:  # one word in the name, the other (or a typo of it) in a few descriptions only
            entries.append(
                (f"Detecção de fraude {n}", "em pagamento" if n % 4 == 0 else "pagamnto" if n % 7 == 0 else "")
            )
        else:  # typos and prefixes
            entries.append((f"Outro {n}", "pagamnto fraudee" if n % 2 else "pag frau"))
    return entries


async def test_first_page_of_a_multi_word_search_matches_the_full_ranking(pocs: PocHarness) -> None:
    """The first relevance page of a search of several words reads the newest postings of the first word's
    best groups and probes the others (`TOP_OF_WORDS`); when it cannot prove its page it answers the
    unanswered row and `run` aggregates every match. Either way every page (1 and 2, through the cursor)
    must be what the full aggregation answers, and both paths must be taken."""
    admin = await pocs.tenant()
    for n, (name, description) in enumerate(_catalogue_of_two_words()):
        await pocs.create(admin, **poc_fields(n, name=name, description=description))
    queries = (
        "pagamento fraude",
        "fraude pagamento",
        "pagamentos fraudes",
        "pagamnto fraude",
        "fraude cartao",
        "pag frau",
        "detecção fraude pagamento",
        "fraude prova",
    )
    answered = unanswered = 0
    async with Database(pocs.database.service, min_size=1, max_size=1, server_settings=SERVER_SETTINGS) as db:

        async def full(params: SearchParams) -> list[Any]:
            sql, args = build(params, shortcut=False)
            return await db.tenant_fetch(admin.tenant_id, sql, *args)

        for q in queries:
            for limit in (1, 2, 3, 5, 6, 10, 100):
                params = SearchParams(q=q, sort="relevance", limit=limit)
                sql, args = build(params, many_words_shortcut=True)
                shortcut = await db.tenant_fetch(admin.tenant_id, sql, *args)
                expected = await full(params)
                if shortcut and shortcut[0]["doc"] is None:
                    assert len(shortcut) == 1, (q, limit)
                    unanswered += 1
                else:
                    assert [tuple(r) for r in shortcut] == [tuple(r) for r in expected], (q, limit)
                    answered += 1
                got = await run(db, admin.tenant_id, params, many_words_shortcut=True)
                assert [tuple(r) for r in got] == [tuple(r) for r in expected], (q, limit)
                plain = await run(db, admin.tenant_id, params)  # as a small catalogue is searched
                assert [tuple(r) for r in plain] == [tuple(r) for r in expected], (q, limit)
                follow = _next_page(params, got)
                if follow is not None:
                    second = await run(db, admin.tenant_id, follow)
                    assert [tuple(r) for r in second] == [tuple(r) for r in await full(follow)], (q, limit)
                    assert not {r["id"] for r in second} & {r["id"] for r in got[:limit]}
    assert answered >= 10 and unanswered >= 10, (answered, unanswered)
    # Over HTTP: paging one row at a time (cursor pages aggregate every match) agrees with every first page.
    for q in queries[:3]:
        one_by_one = await pocs.search_all(admin, q=q, limit=1)
        for limit in (2, 5, 20):
            assert (await pocs.search(admin, q=q, limit=limit)).json()["items"] == one_by_one[:limit], (q, limit)
