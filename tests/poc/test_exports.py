"""POST /v1/pocs/exports and the export's items: every page of the search, frozen, behind a secret."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.local import DatabaseUrls
from runtime.settings import Settings
from tests.identity.harness import Account
from tests.poc.conftest import PROBLEM, PocHarness, poc_fields, poc_harness, subject

EXPORTS = "/v1/pocs/exports"


async def create_export(pocs: PocHarness, account: Account, **filters: Any) -> httpx.Response:
    return await pocs.http.post(EXPORTS, json={"filters": filters}, headers=account.auth)


async def created(pocs: PocHarness, account: Account, **filters: Any) -> dict[str, Any]:
    response = await create_export(pocs, account, **filters)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["location"] == f"{EXPORTS}/{body['id']}"
    return body


async def items_page(
    pocs: PocHarness, export: dict[str, Any], secret: str | None = None, **params: Any
) -> httpx.Response:
    return await pocs.http.get(
        f"{EXPORTS}/{export['id']}/items", params=params, headers={"Export-Secret": secret or export["secret"]}
    )


async def read_all(pocs: PocHarness, export: dict[str, Any], limit: int = 3) -> list[dict[str, Any]]:
    """Every item of an export, page by page, checking `next` and `count` on the way."""
    items: list[dict[str, Any]] = []
    after = 0
    while True:
        response = await items_page(pocs, export, after=after, limit=limit)
        assert response.status_code == 200, response.text
        page = response.json()
        assert page["count"] == export["count"]
        items.extend(page["items"])
        if page["next"] is None:
            assert len(items) == export["count"]
            return items
        assert page["next"] == after + limit == len(items)
        after = page["next"]


async def admin_rows(database: DatabaseUrls, query: str, *args: Any) -> list[asyncpg.Record]:
    """A query as the database administrator (row-level security does not hide other tenants' rows)."""
    conn = await asyncpg.connect(database.admin)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


@pytest.fixture
async def catalogue(pocs: PocHarness) -> tuple[Account, Account, list[dict[str, Any]]]:
    """A tenant with a varied catalogue (accents, languages, tags, two owners, names that tie when folded),
    enough POCs for several pages: (admin, member, POCs in creation order)."""
    admin = await pocs.tenant()
    member = await pocs.member(admin)
    entries = [
        ("Integração de Pagamentos PIX", "Cobrança instantânea.", "Go", ["payments", "pix"]),
        ("Kubernetes operator for Kafka", "Deploys Kafka clusters.", "Go", ["kubernetes", "kafka"]),
        ("Chatbot de atendimento", "Assistente com IA e busca semântica.", "Python", ["llm"]),
        ("Detecção de fraudes", "Machine learning para cartões e pagamentos.", "Python", ["ml", "payments"]),
        ("Ábaco digital", "Integração com planilhas.", "TypeScript", ["crdt"]),
        ("abaco digital", "Outra integração, mesmo nome sem acento.", "Rust", ["pix"]),
        ("Emissão de notas fiscais", "Integração com a SEFAZ.", "Java", ["nfe", "payments", "pix"]),
        ("São Paulo transit", "Ônibus em tempo real.", "Kotlin", []),
        ("Zebra pagamentos", "Pagamento por aproximação.", "Go", ["pix"]),
        ("ação rápida", "Integração contínua.", "Python", ["ci"]),
    ]
    made = []
    for n, (name, description, language, tags) in enumerate(entries * 2):
        owner = member if n % 3 == 0 else admin
        suffix = "" if n < len(entries) else f" {n}"
        fields = poc_fields(n, name=name + suffix, description=description, language=language, tags=tags)
        made.append(await pocs.create(owner, **fields))
    return admin, member, made


async def test_an_export_is_every_page_of_the_search(
    pocs: PocHarness, catalogue: tuple[Account, Account, list[dict[str, Any]]]
) -> None:
    admin, member, made = catalogue
    middle, late = made[6]["created_at"], made[14]["created_at"]
    filter_sets: list[dict[str, Any]] = [
        {},
        {"q": "integracao"},
        {"q": "INTEGRAÇÃO"},
        {"q": "pagamento"},
        {"q": "integrasao", "language": "python"},
        {"q": "ab"},
        {"language": "go"},
        {"tag": ["pix"]},
        {"tag": ["Payments", "pix"]},
        {"owner": "me"},
        {"owner": subject(admin)},
        {"created_from": middle},
        {"created_from": middle, "created_to": late},
        {"created_to": late, "tag": ["pix"]},
        {"q": "zebra", "tag": ["pix"], "created_from": middle},
    ]
    sorts: list[str | None] = [None, "-created_at", "created_at", "name", "-name"]
    checked = 0
    for filters in filter_sets:
        for sort in [*sorts, *(["relevance"] if "q" in filters else [])]:
            params = {**filters, **({"sort": sort} if sort else {})}
            for account in (admin, member):
                expected = await pocs.search_all(account, **params, limit=4)
                export = await created(pocs, account, **params)
                assert export["count"] == len(expected), params
                assert await read_all(pocs, export) == expected, params
                delete = await pocs.http.delete(
                    f"{EXPORTS}/{export['id']}", headers={"Export-Secret": export["secret"]}
                )
                assert delete.status_code == 204
                checked += 1 if expected else 0
    assert checked > 100  # most combinations match something


async def test_items_pages_and_their_bounds(pocs: PocHarness, catalogue: tuple[Account, Account, list[Any]]) -> None:
    admin, _, made = catalogue
    export = await created(pocs, admin, sort="created_at")
    assert export["count"] == len(made)
    whole = (await items_page(pocs, export, limit=1000)).json()
    assert [item["id"] for item in whole["items"]] == [poc["id"] for poc in made]
    assert whole["next"] is None
    assert (await items_page(pocs, export)).json()["items"] == whole["items"]  # default page: 100
    last = (await items_page(pocs, export, after=len(made) - 1, limit=5)).json()
    assert last == {"items": whole["items"][-1:], "next": None, "count": len(made)}
    beyond = (await items_page(pocs, export, after=len(made) + 10)).json()
    assert beyond == {"items": [], "next": None, "count": len(made)}
    for params in ({"limit": 0}, {"limit": 1001}, {"after": -1}, {"after": 2**31}, {"limit": "x"}):
        response = await items_page(pocs, export, **params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == PROBLEM
    missing = await pocs.http.get(f"{EXPORTS}/{export['id']}/items")
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["Export-Secret"]


async def test_bad_filters_get_the_same_422_as_the_search(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    bad: list[dict[str, Any]] = [
        {"q": "a" * 201},
        {"q": "\x01kafka"},
        {"q": "!!!"},
        {"q": " ".join(f"word{n}" for n in range(11))},
        {"language": "klingon"},
        {"language": "pyton"},
        {"language": " "},
        {"tag": ["ok", "", "x" * 41]},
        {"tag": [f"t{n}" for n in range(21)]},
        {"owner": "\x02"},
        {"created_from": "yesterday"},
        {"created_to": "2024-13-01"},
        {"created_from": "2024-05-02", "created_to": "2024-05-01"},
        {"sort": "popularity"},
        {"sort": "relevance"},
        {"q": "!!!", "language": "klingon", "tag": ["+"], "sort": "relevance", "created_from": "x"},
    ]
    for filters in bad:
        search = await pocs.search(admin, **filters)
        export = await create_export(pocs, admin, **filters)
        assert search.status_code == export.status_code == 422, (filters, search.text, export.text)
        assert export.headers["content-type"] == PROBLEM
        expected, got = search.json(), export.json()
        assert got["errors"] == expected["errors"], filters
        assert got["detail"] == expected["detail"], filters
    assert await admin_rows(pocs.database, "SELECT id FROM poc.exports") == []


async def test_filters_of_the_wrong_shape_are_field_errors(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    cases: list[tuple[Any, list[str]]] = [
        ({"filters": {"q": 5}}, ["filters.q"]),
        ({"filters": {"tag": "pix"}}, ["filters.tag"]),
        ({"filters": {"tag": [1]}}, ["filters.tag.0"]),
        ({"filters": {"limit": 5}}, ["filters.limit"]),
        ({"filters": []}, ["filters"]),
        ({"filter": {}}, ["filter"]),
    ]
    for body, fields in cases:
        response = await pocs.http.post(EXPORTS, json=body, headers=admin.auth)
        assert response.status_code == 422, body
        assert [e["field"] for e in response.json()["errors"]] == fields, body
    assert (await pocs.http.post(EXPORTS, json={}, headers=admin.auth)).status_code == 201  # no filters: all
    unauthenticated = await pocs.http.post(EXPORTS, json={})
    assert unauthenticated.status_code == 401


async def test_another_tenants_export_is_not_found_even_with_its_own_valid_secret(pocs: PocHarness) -> None:
    a, b = await pocs.tenant(), await pocs.tenant()
    await pocs.create(a, **poc_fields(1, name="Segredo de A"))
    await pocs.create(b, **poc_fields(1, name="Segredo de B"))
    export_a, export_b = await created(pocs, a), await created(pocs, b)
    random_part = export_a["secret"].rsplit(".", 1)[1]
    forged = f"pex1.{b.tenant_id}.{random_part}"  # A's random part under B's tenant
    for secret in (export_b["secret"], forged):
        assert (await items_page(pocs, export_a, secret)).status_code == 404
        delete = await pocs.http.delete(f"{EXPORTS}/{export_a['id']}", headers={"Export-Secret": secret})
        assert delete.status_code == 404
    # B's bearer token changes nothing: the secret alone decides.
    response = await pocs.http.get(
        f"{EXPORTS}/{export_a['id']}/items", headers={"Export-Secret": export_b["secret"], **b.auth}
    )
    assert response.status_code == 404
    assert [i["name"] for i in (await items_page(pocs, export_a)).json()["items"]] == ["Segredo de A"]
    assert [i["name"] for i in (await items_page(pocs, export_b)).json()["items"]] == ["Segredo de B"]


async def test_a_wrong_secret_is_not_found(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    await pocs.create(admin, **poc_fields(1))
    export = await created(pocs, admin)
    secret = export["secret"]
    version, tenant, random_part = secret.split(".")
    assert version == "pex1" and tenant == admin.tenant_id and len(random_part) == 43
    flipped = random_part[:-1] + ("A" if random_part[-1] != "A" else "B")
    wrong = [
        f"{version}.{tenant}.{flipped}",
        f"{version}.{tenant}.{random_part[:-1]}",
        f"pex2.{tenant}.{random_part}",
        f"{version}.{uuid.uuid4()}.{random_part}",
        "x",
        secret + "A",
    ]
    for bad in wrong:
        response = await items_page(pocs, export, bad)
        assert response.status_code == 404, bad
        assert response.headers["content-type"] == PROBLEM
        assert (await pocs.http.delete(f"{EXPORTS}/{export['id']}", headers={"Export-Secret": bad})).status_code == 404
    assert (await items_page(pocs, export, secret, after=0)).status_code == 200
    unknown = {**export, "id": str(uuid.uuid4())}
    assert (await items_page(pocs, unknown)).status_code == 404
    stored = await admin_rows(pocs.database, "SELECT secret_hash FROM poc.exports")
    assert len(stored) == 1 and secret.encode() not in bytes(stored[0]["secret_hash"])


async def test_an_expired_export_is_not_found_and_purged(pocs: PocHarness) -> None:
    a, b = await pocs.tenant(), await pocs.tenant()
    for n in range(3):
        await pocs.create(a, **poc_fields(n))
        await pocs.create(b, **poc_fields(n))
    read, deleted, idle = await created(pocs, a), await created(pocs, a), await created(pocs, b)
    await admin_rows(
        pocs.database,
        "UPDATE poc.exports SET expires_at = now() - interval '1 second' WHERE id = ANY($1::uuid[])",
        [read["id"], deleted["id"], idle["id"]],
    )

    async def stored(export: dict[str, Any]) -> tuple[int, int]:
        exports = await admin_rows(pocs.database, "SELECT 1 FROM poc.exports WHERE id = $1", uuid.UUID(export["id"]))
        items = await admin_rows(
            pocs.database, "SELECT 1 FROM poc.export_items WHERE export_id = $1", uuid.UUID(export["id"])
        )
        return len(exports), len(items)

    assert await stored(read) == (1, 3)
    assert (await items_page(pocs, read)).status_code == 404
    assert await stored(read) == (0, 0)
    assert (
        await pocs.http.delete(f"{EXPORTS}/{deleted['id']}", headers={"Export-Secret": deleted["secret"]})
    ).status_code == 404
    assert await stored(deleted) == (0, 0)
    # Tenant B never comes back for its export: tenant A's next export purges it.
    assert await stored(idle) == (1, 3)
    fresh = await created(pocs, a)
    assert await stored(idle) == (0, 0)
    assert await stored(fresh) == (1, 3)


async def test_delete_removes_the_export_and_its_items(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    for n in range(4):
        await pocs.create(admin, **poc_fields(n))
    export, other = await created(pocs, admin), await created(pocs, admin)
    url, headers = f"{EXPORTS}/{export['id']}", {"Export-Secret": export["secret"]}
    response = await pocs.http.delete(url, headers=headers)
    assert response.status_code == 204 and response.content == b""
    assert (await items_page(pocs, export)).status_code == 404
    assert (await pocs.http.delete(url, headers=headers)).status_code == 404
    rows = await admin_rows(pocs.database, "SELECT DISTINCT export_id::text AS id FROM poc.export_items")
    assert [r["id"] for r in rows] == [other["id"]]
    assert len((await items_page(pocs, other, limit=10)).json()["items"]) == 4


@pytest.fixture
async def capped(make_settings: Callable[..., Settings], database: DatabaseUrls) -> AsyncIterator[PocHarness]:
    async with poc_harness(make_settings, database, poc_export_max_rows=3, poc_export_max_live_per_user=2) as harness:
        yield harness


async def test_a_search_larger_than_the_row_cap_is_refused(capped: PocHarness) -> None:
    admin = await capped.tenant()
    for n in range(4):
        await capped.create(admin, **poc_fields(n, language="go" if n else "python"))
    response = await create_export(capped, admin)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    [error] = response.json()["errors"]
    assert error["field"] == "filters" and error["code"] == "too_many_results"
    assert "more than 3 POCs" in error["message"]
    assert await admin_rows(capped.database, "SELECT 1 FROM poc.exports") == []
    assert await admin_rows(capped.database, "SELECT 1 FROM poc.export_items") == []
    exact = await created(capped, admin, language="go")
    assert exact["count"] == 3


async def test_the_live_export_cap_answers_429_with_retry_after(capped: PocHarness) -> None:
    admin = await capped.tenant()
    member = await capped.member(admin)
    await capped.create(admin, **poc_fields(1))
    first, _ = await created(capped, admin), await created(capped, admin)
    refused = await create_export(capped, admin)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "at most 2" in refused.json()["detail"]
    await created(capped, member)  # the cap is per user
    delete = await capped.http.delete(f"{EXPORTS}/{first['id']}", headers={"Export-Secret": first["secret"]})
    assert delete.status_code == 204
    third = await created(capped, admin)
    await admin_rows(
        capped.database,
        "UPDATE poc.exports SET expires_at = now() - interval '1 second' WHERE id = $1",
        uuid.UUID(third["id"]),
    )
    await created(capped, admin)  # an expired export no longer counts


async def test_an_export_is_a_snapshot(pocs: PocHarness) -> None:
    admin = await pocs.tenant()
    made = [await pocs.create(admin, **poc_fields(n, name=f"Pagamentos {n}")) for n in range(5)]
    before = await pocs.search_all(admin, q="pagamentos", sort="name")
    export = await created(pocs, admin, q="pagamentos", sort="name")
    await pocs.create(admin, **poc_fields(9, name="Pagamentos 0 novo"))
    renamed = await pocs.http.patch(
        f"/v1/pocs/{made[1]['id']}", json={"name": "Pagamentos renomeado"}, headers=admin.auth
    )
    assert renamed.status_code == 200
    assert (await pocs.http.delete(f"/v1/pocs/{made[2]['id']}", headers=admin.auth)).status_code == 204
    after = await pocs.search_all(admin, q="pagamentos", sort="name")
    assert after != before
    assert await read_all(pocs, export, limit=2) == before
