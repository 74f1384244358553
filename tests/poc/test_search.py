"""GET /v1/pocs: text that forgives accents and typos, filters, sorts and keyset pagination."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import asyncpg
import pytest

from poc_api.validation import STOP_WORDS, search_words
from tests.identity.harness import Account
from tests.poc.conftest import PROBLEM, PocHarness, poc_fields, subject


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


async def found(pocs: PocHarness, account: Account, **params: Any) -> list[str]:
    response = await pocs.search(account, limit=100, **params)
    assert response.status_code == 200, response.text
    return names(response.json()["items"])


@pytest.fixture
async def catalogue(pocs: PocHarness) -> tuple[Account, Account]:
    """A tenant with a small, varied catalogue: (admin, member)."""
    admin = await pocs.tenant()
    member = await pocs.member(admin)
    entries = [
        (admin, "Integração de Pagamentos PIX", "Cobrança instantânea com webhooks.", "Go", ["payments", "pix"]),
        (admin, "Kubernetes operator for Kafka", "Deploys and scales Kafka clusters.", "Go", ["kubernetes", "kafka"]),
        (member, "Chatbot de atendimento", "Assistente com IA generativa e busca semântica.", "Python", ["llm", "ai"]),
        (member, "Detecção de fraudes", "Modelo de machine learning para cartões.", "Python", ["ml", "payments"]),
        (admin, "Realtime collaborative editor", "CRDT based editor with WebSockets.", "TypeScript", ["crdt"]),
        (member, "Emissão de notas fiscais", "Integração com a SEFAZ para NF-e.", "Java", ["nfe", "payments", "pix"]),
    ]
    for n, (owner, name, description, language, tags) in enumerate(entries):
        await pocs.create(owner, **poc_fields(n, name=name, description=description, language=language, tags=tags))
    return admin, member


async def test_accents_and_case_are_ignored(pocs: PocHarness, catalogue: tuple[Account, Account]) -> None:
    admin, _ = catalogue
    assert await found(pocs, admin, q="integracao") == ["Integração de Pagamentos PIX", "Emissão de notas fiscais"]
    assert await found(pocs, admin, q="INTEGRAÇÃO pagamentos") == ["Integração de Pagamentos PIX"]
    assert await found(pocs, admin, q="deteccao") == ["Detecção de fraudes"]
    assert await found(pocs, admin, q="semantica") == ["Chatbot de atendimento"]


async def test_typos_are_forgiven(pocs: PocHarness, catalogue: tuple[Account, Account]) -> None:
    admin, _ = catalogue
    assert await found(pocs, admin, q="kubernets") == ["Kubernetes operator for Kafka"]  # a letter missing
    assert await found(pocs, admin, q="kuberentes") == ["Kubernetes operator for Kafka"]  # transposed
    assert await found(pocs, admin, q="integrasao") == ["Integração de Pagamentos PIX", "Emissão de notas fiscais"]
    assert await found(pocs, admin, q="colaborative") == ["Realtime collaborative editor"]
    assert await found(pocs, admin, q="chatbto") == ["Chatbot de atendimento"]
    assert await found(pocs, admin, q="xyzzy") == []


async def test_prefixes_match_longer_words(pocs: PocHarness, catalogue: tuple[Account, Account]) -> None:
    admin, _ = catalogue
    assert await found(pocs, admin, q="pagamento") == ["Integração de Pagamentos PIX"]
    assert await found(pocs, admin, q="collab") == ["Realtime collaborative editor"]
    assert await found(pocs, admin, q="real") == ["Realtime collaborative editor"]


async def test_every_word_must_match(pocs: PocHarness, catalogue: tuple[Account, Account]) -> None:
    admin, _ = catalogue
    assert await found(pocs, admin, q="kafka kubernetes") == ["Kubernetes operator for Kafka"]
    assert await found(pocs, admin, q="kafka pix") == []
    # Stop words are ignored, not required.
    assert await found(pocs, admin, q="operator for the Kafka") == ["Kubernetes operator for Kafka"]


async def test_relevance_ranks_name_matches_first(pocs: PocHarness, catalogue: tuple[Account, Account]) -> None:
    admin, _ = catalogue
    # "integração" is in one name and in another's description: the name match ranks first.
    assert await found(pocs, admin, q="integração") == ["Integração de Pagamentos PIX", "Emissão de notas fiscais"]
    # Exact matches rank above typo matches.
    await pocs.create(admin, **poc_fields(50, name="Kubernete dashboards", tags=[]))
    ranked = await found(pocs, admin, q="kubernetes")
    assert ranked == ["Kubernetes operator for Kafka", "Kubernete dashboards"]


async def test_language_filter_is_case_insensitive_and_checked(
    pocs: PocHarness, catalogue: tuple[Account, Account]
) -> None:
    admin, _ = catalogue
    assert sorted(await found(pocs, admin, language="python")) == ["Chatbot de atendimento", "Detecção de fraudes"]
    assert await found(pocs, admin, language="golang", q="pix") == ["Integração de Pagamentos PIX"]
    unknown = await pocs.search(admin, language="pyhton")
    assert unknown.status_code == 422 and unknown.headers["content-type"] == PROBLEM
    error = unknown.json()["errors"][0]
    assert error["field"] == "language" and error["code"] == "unknown_language"
    assert "did you mean Python" in error["message"]


async def test_tags_must_all_match(pocs: PocHarness, catalogue: tuple[Account, Account]) -> None:
    admin, _ = catalogue
    assert sorted(await found(pocs, admin, tag="payments")) == [
        "Detecção de fraudes",
        "Emissão de notas fiscais",
        "Integração de Pagamentos PIX",
    ]
    both = await found(pocs, admin, tag=["payments", "PIX"])
    assert sorted(both) == ["Emissão de notas fiscais", "Integração de Pagamentos PIX"]
    assert await found(pocs, admin, tag=["payments", "pix", "nfe"]) == ["Emissão de notas fiscais"]
    assert await found(pocs, admin, tag=["payments", "crdt"]) == []
    for sort in ("name", "-name", "created_at"):
        assert sorted(await found(pocs, admin, tag=["pix", "payments"], sort=sort)) == sorted(both)
    assert await found(pocs, admin, tag="pix", q="fiscais") == ["Emissão de notas fiscais"]
    bad = await pocs.search(admin, tag="!!!")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "tag.0"


async def test_owner_filter(pocs: PocHarness, catalogue: tuple[Account, Account]) -> None:
    admin, member = catalogue
    mine = await found(pocs, member, owner="me")
    assert sorted(mine) == ["Chatbot de atendimento", "Detecção de fraudes", "Emissão de notas fiscais"]
    assert sorted(await found(pocs, admin, owner=subject(member))) == sorted(mine)
    assert len(await found(pocs, admin, owner="me")) == 3
    assert await found(pocs, admin, owner="someone-else") == []


async def test_created_date_range(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    made = [await pocs.create(admin, **poc_fields(n)) for n in range(3)]
    conn = await asyncpg.connect(pocs.database.admin)
    try:
        for poc, day in zip(
            made, ("2023-01-10 10:00:00+00", "2023-06-15 23:59:59+00", "2024-02-01 00:00:00+00"), strict=True
        ):
            await conn.execute(
                "UPDATE poc.pocs SET created_at = $1::text::timestamptz WHERE id = $2::uuid", day, poc["id"]
            )
    finally:
        await conn.close()
    assert await found(pocs, admin, created_from="2023-06-15", created_to="2023-06-15") == ["POC número 1"]
    assert await found(pocs, admin, created_from="2023-01-01", created_to="2023-12-31") == [
        "POC número 1",
        "POC número 0",
    ]
    assert await found(pocs, admin, created_from="2023-06-16T00:00:00Z") == ["POC número 2"]
    assert await found(pocs, admin, created_to="2023-06-15T23:59:59-03:00") == ["POC número 1", "POC número 0"]
    assert await found(pocs, admin, created_from="2024-02-01T00:00:00") == ["POC número 2"]  # UTC assumed
    for params, field, code in (
        ({"created_from": "yesterday"}, "created_from", "invalid_datetime"),
        ({"created_to": "2024-13-01"}, "created_to", "invalid_datetime"),
        ({"created_from": "2024-02-01", "created_to": "2024-01-01"}, "created_to", "empty_range"),
    ):
        response = await pocs.search(admin, **params)
        assert response.status_code == 422, params
        assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["code"]) == (field, code)


async def test_sorts(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    for n, name in enumerate(("banana", "Ábaco", "cereja", "abacaxi")):
        await pocs.create(admin, **poc_fields(n, name=name))
    assert await found(pocs, admin) == ["abacaxi", "cereja", "Ábaco", "banana"]  # newest first
    assert await found(pocs, admin, sort="created_at") == ["banana", "Ábaco", "cereja", "abacaxi"]
    assert await found(pocs, admin, sort="name") == ["abacaxi", "Ábaco", "banana", "cereja"]  # accents folded
    assert await found(pocs, admin, sort="-name") == ["cereja", "banana", "Ábaco", "abacaxi"]
    invalid = await pocs.search(admin, sort="popularity")
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["code"] == "invalid_sort"
    needs_q = await pocs.search(admin, sort="relevance")
    assert needs_q.status_code == 422 and needs_q.json()["errors"][0]["code"] == "relevance_needs_q"


@pytest.mark.parametrize("sort", ["-created_at", "created_at", "name", "-name", "relevance"])
async def test_pages_cover_everything_once(pocs: PocHarness, sort: str) -> None:
    admin = await pocs.tenant()
    # Duplicate names and equal scores make ties the cursor must break by id.
    for n in range(23):
        await pocs.create(admin, **poc_fields(n, name=f"Demo {n % 4}", description="demo"))
    everything = await pocs.search_all(admin, q="demo", sort=sort, limit=5)
    assert len(everything) == 23 and len({p["id"] for p in everything}) == 23
    if sort == "name":
        assert names(everything) == sorted(names(everything))


async def test_cursor_is_stable_while_rows_are_inserted(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    before = [await pocs.create(admin, **poc_fields(n, name=f"row {n:02d}")) for n in range(30)]
    extra = 0
    for sort in ("-created_at", "created_at", "name", "-name"):
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"sort": sort, "limit": 4, **({"cursor": cursor} if cursor else {})}
            page = (await pocs.search(admin, **params)).json()
            seen.extend(p["id"] for p in page["items"])
            # Between pages, others insert rows before, among and after the ones already served.
            for name in ("row 00a", "row 15a", "row 99"):
                await pocs.create(admin, **poc_fields(1000 + extra, name=f"{name} {sort} {extra}"))
                extra += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)), f"{sort}: a row was served twice"
        assert {p["id"] for p in before} <= set(seen), f"{sort}: a row that existed was skipped"


async def test_concurrent_inserts_during_paging(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    for n in range(40):
        await pocs.create(admin, **poc_fields(n))
    stop = asyncio.Event()

    async def writer() -> None:
        n = 1000
        while not stop.is_set():
            await pocs.create(admin, **poc_fields(n))
            n += 1

    task = asyncio.create_task(writer())
    try:
        pages = await pocs.search_all(admin, limit=3)
    finally:
        stop.set()
        await task
    ids = [p["id"] for p in pages]
    assert len(ids) == len(set(ids)) >= 40


async def test_malformed_and_mismatched_cursors(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    for n in range(3):
        await pocs.create(admin, **poc_fields(n))
    cursor = (await pocs.search(admin, limit=1)).json()["next_cursor"]
    assert cursor
    for bad in ("garbage", "%%%", "x" * 600, base64.urlsafe_b64encode(b'[1,"-created_at"]').decode(), "é"):
        response = await pocs.search(admin, cursor=bad)
        assert response.status_code == 422, bad
        assert response.json()["errors"][0] == {
            "field": "cursor",
            "code": "invalid_cursor",
            "message": "is not a cursor returned by this API; start again without a cursor",
        }
    for params in ({"sort": "name"}, {"language": "Python"}, {"q": "poc"}):
        response = await pocs.search(admin, cursor=cursor, **params)
        assert response.status_code == 422, params
        assert response.json()["errors"][0]["code"] == "cursor_mismatch"
    # Same search, another limit: fine.
    assert (await pocs.search(admin, cursor=cursor, limit=50)).status_code == 200


async def test_forged_cursor_values_are_checked(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    await pocs.create(admin, **poc_fields(1))
    await pocs.create(admin, **poc_fields(2))
    cursor = (await pocs.search(admin, limit=1)).json()["next_cursor"]
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for key in (["x", payload[4]], [10**30, payload[4]], [payload[3], "not-a-uuid"], [1.5, payload[4]], [payload[3]]):
        forged = base64.urlsafe_b64encode(json.dumps([*payload[:3], *key]).encode()).decode().rstrip("=")
        response = await pocs.search(admin, cursor=forged)
        assert response.status_code == 422, key
        assert response.json()["errors"][0]["code"] == "invalid_cursor"


async def test_query_parameter_errors(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    cases = [
        ({"q": "!? —"}, "q", "no_search_terms"),
        ({"q": "x" * 201}, "q", "too_long"),
        ({"q": "a\x01b"}, "q", "invalid_characters"),
        ({"limit": 0}, "limit", "out_of_range"),
        ({"limit": 101}, "limit", "out_of_range"),
        ({"tag": [f"t{i}" for i in range(21)]}, "tag", "too_many"),
        ({"owner": "x" * 300}, "owner", "invalid_owner"),
    ]
    for params, field, code in cases:
        response = await pocs.search(admin, **params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == PROBLEM
        assert (response.json()["errors"][0]["field"], response.json()["errors"][0]["code"]) == (field, code)


async def test_search_index_follows_changes(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    poc = await pocs.create(admin, **poc_fields(1, name="Observabilidade distribuída", tags=["otel"]))
    assert await found(pocs, admin, q="observabilidade") == ["Observabilidade distribuída"]
    await pocs.http.patch(
        f"/v1/pocs/{poc['id']}", json={"name": "Rastreamento de entregas", "tags": ["logistics"]}, headers=admin.auth
    )
    assert await found(pocs, admin, q="observabilidade") == []
    assert await found(pocs, admin, tag="otel") == []
    assert await found(pocs, admin, q="rastreamento") == ["Rastreamento de entregas"]
    assert await found(pocs, admin, tag="logistics") == ["Rastreamento de entregas"]
    await pocs.http.delete(f"/v1/pocs/{poc['id']}", headers=admin.auth)
    assert await found(pocs, admin, q="rastreamento") == []
    assert await found(pocs, admin, tag="logistics") == []


async def test_sql_and_python_tokenizers_agree(pocs: PocHarness) -> None:
    """The Python pre-check of `q` (no searchable word → 422) must see what `poc.search_words` sees."""
    conn = await asyncpg.connect(pocs.database.service)
    try:
        sql_stop = await conn.fetchval("SELECT poc.search_words($1)", " ".join(sorted(STOP_WORDS)))
        assert sql_stop == []
        for text in (
            "Integração de Pagamentos PIX — São Paulo",
            "e-commerce C++ 2024 Ångström Straße",
            "Kubernetes operator for the Kafka clusters",
            "привет мир",
            "a b c de",
        ):
            assert await conn.fetchval("SELECT poc.search_words($1)", text) == search_words(text), text
    finally:
        await conn.close()


async def test_words_folded_differently_by_python_still_match(pocs: PocHarness) -> None:
    """`unaccent` folds some rare letters Python's NFKD keeps (ħ → h): such query words lose typo
    tolerance (their deletion keys come from Python) but still match exactly and by prefix."""
    admin = await pocs.tenant()
    await pocs.create(admin, **poc_fields(1, name="Ħammerfest telemetria"))
    assert search_words("ħammerfest") != ["hammerfest"]
    assert await found(pocs, admin, q="ħammerfest") == ["Ħammerfest telemetria"]
    assert await found(pocs, admin, q="hammerfest") == ["Ħammerfest telemetria"]
    assert await found(pocs, admin, q="ħammer") == ["Ħammerfest telemetria"]


async def test_short_queries_and_stop_words_match_by_prefix(
    pocs: PocHarness, catalogue: tuple[Account, Account]
) -> None:
    """Search-as-you-type: a query without a word of 3+ characters (`k`, `ku`, `de`) finds the POCs with a
    word it begins, instead of 422; in a longer query such words are still ignored."""
    admin, _ = catalogue
    assert await found(pocs, admin, q="k") == ["Kubernetes operator for Kafka"]
    assert await found(pocs, admin, q="KU") == ["Kubernetes operator for Kafka"]
    # `de` is a stop word (never a term): it finds `Detecção` (name, ranked first) and `Deploys`.
    assert await found(pocs, admin, q="de") == ["Detecção de fraudes", "Kubernetes operator for Kafka"]
    assert await found(pocs, admin, q="dé") == ["Detecção de fraudes", "Kubernetes operator for Kafka"]
    assert await found(pocs, admin, q="de f") == ["Detecção de fraudes"]
    assert await found(pocs, admin, q="de k") == ["Kubernetes operator for Kafka"]  # every word must match
    assert await found(pocs, admin, q="x") == []
    assert await found(pocs, admin, q="de para the") == []  # no term begins with `para`
    assert await found(pocs, admin, q="de fraudes") == ["Detecção de fraudes"]  # `de` ignored beside a word
    paged = await pocs.search_all(admin, q="de", limit=1)
    assert names(paged) == ["Detecção de fraudes", "Kubernetes operator for Kafka"]
    by_name = await pocs.search_all(admin, q="d", sort="name", limit=1)
    assert names(by_name) == ["Detecção de fraudes", "Kubernetes operator for Kafka"]


async def test_q_matches_tags(pocs: PocHarness, catalogue: tuple[Account, Account]) -> None:
    admin, member = catalogue
    assert await found(pocs, admin, q="llm") == ["Chatbot de atendimento"]
    assert sorted(await found(pocs, admin, q="payments")) == [
        "Detecção de fraudes",
        "Emissão de notas fiscais",
        "Integração de Pagamentos PIX",
    ]
    assert await found(pocs, admin, q="paymnets kafka") == []  # typos too, and every word must match
    assert await found(pocs, admin, q="paymnets fraudes") == ["Detecção de fraudes"]
    assert await found(pocs, admin, q="l") == ["Detecção de fraudes", "Chatbot de atendimento"]  # learning, llm
    # A tag change re-indexes the text: the old tag stops matching, the new one matches.
    mine = (await pocs.search(member, q="chatbot")).json()["items"][0]
    changed = await pocs.http.patch(f"/v1/pocs/{mine['id']}", json={"tags": ["Machine Learning"]}, headers=member.auth)
    assert changed.status_code == 200, changed.text
    assert await found(pocs, admin, q="llm") == []
    assert "Chatbot de atendimento" in await found(pocs, admin, q="machine learning")


async def test_facets_count_languages_and_tags_of_the_search(
    pocs: PocHarness, catalogue: tuple[Account, Account]
) -> None:
    admin, member = catalogue

    async def facets(account: Account = admin, **params: Any) -> dict[str, Any]:
        response = await pocs.http.get("/v1/pocs/facets", params=params, headers=account.auth)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def pairs(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
        return [(item["value"], item["count"]) for item in items]

    everything = await facets()
    assert pairs(everything["languages"]) == [("Go", 2), ("Python", 2), ("Java", 1), ("TypeScript", 1)]
    assert pairs(everything["tags"])[:2] == [("payments", 3), ("pix", 2)]
    assert len(everything["tags"]) == 9
    searched = await facets(q="payments")
    assert pairs(searched["languages"]) == [("Go", 1), ("Java", 1), ("Python", 1)]
    assert pairs(searched["tags"]) == [("payments", 3), ("pix", 2), ("ml", 1), ("nfe", 1)]
    filtered = await facets(q="de", language="python", tag="payments", owner="me")
    assert filtered == {"languages": [], "tags": []}
    mine = await facets(member, q="de", language="python", owner="me")
    assert pairs(mine["languages"]) == [("Python", 1)] and pairs(mine["tags"]) == [("ml", 1), ("payments", 1)]
    top = await facets(top=1, created_from="2000-01-01")
    assert pairs(top["languages"]) == [("Go", 2)] and pairs(top["tags"]) == [("payments", 3)]
    # Another tenant counts only its own catalogue; bad parameters are 422 as for the search.
    assert await facets(await pocs.tenant()) == {"languages": [], "tags": []}
    for params, field in (
        ({"top": 0}, "top"),
        ({"top": 101}, "top"),
        ({"q": "a\x01b"}, "q"),
        ({"language": "x"}, "language"),
    ):
        response = await pocs.http.get("/v1/pocs/facets", params=params, headers=admin.auth)
        assert response.status_code == 422, params
        body = response.json()
        assert field in str(body.get("errors") or body), body
    assert (await pocs.http.get("/v1/pocs/facets")).status_code == 401
