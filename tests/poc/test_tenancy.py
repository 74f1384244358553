"""The cross-tenant matrix: nothing of tenant B is visible or changeable from tenant A — by id, by
search, by cursor tampering — and the database itself enforces it."""

from __future__ import annotations

import base64
import json
from typing import Any

import asyncpg
import pytest

from poc_api import cursor as cursors
from tests.identity.harness import Account
from tests.poc.conftest import PocHarness, poc_fields

POC_TABLES = ("pocs", "poc_tags", "search_postings", "search_vocabulary", "outbox")


@pytest.fixture
async def two_tenants(pocs: PocHarness) -> tuple[Account, Account, list[dict[str, Any]]]:
    """Tenant A (admin) with a few POCs, tenant B (admin) with POCs using distinctive words and tags."""
    a = await pocs.tenant()
    b = await pocs.tenant()
    for n in range(3):
        await pocs.create(a, **poc_fields(n, name=f"Alpha {n}", tags=["shared"]))
    b_pocs = [
        await pocs.create(
            b,
            **poc_fields(
                n,  # the same repositories as A's: allowed across tenants
                name=f"Zebrafish secreto {n}",
                description="Somente do tenant B",
                language="Haskell",
                tags=["shared", "b-only"],
            ),
        )
        for n in range(5)
    ]
    return a, b, b_pocs


async def test_other_tenants_poc_is_not_found_by_id(
    pocs: PocHarness, two_tenants: tuple[Account, Account, list[dict[str, Any]]]
) -> None:
    a, b, b_pocs = two_tenants
    target = b_pocs[0]["id"]
    for method, body in (("GET", None), ("PATCH", {"name": "hijacked"}), ("DELETE", None)):
        response = await pocs.http.request(method, f"/v1/pocs/{target}", json=body, headers=a.auth)
        assert response.status_code == 404, method  # not 403: its existence is not revealed
    # Still intact for B.
    still = await pocs.http.get(f"/v1/pocs/{target}", headers=b.auth)
    assert still.status_code == 200 and still.json() == b_pocs[0]


async def test_search_never_shows_other_tenants_rows(
    pocs: PocHarness, two_tenants: tuple[Account, Account, list[dict[str, Any]]]
) -> None:
    a, b, _ = two_tenants
    for params in (
        {},
        {"q": "zebrafish"},
        {"q": "secreto"},
        {"q": "zebrafsh"},  # typo-tolerant matching must not reach B's vocabulary either
        {"q": "zebr"},  # nor prefixes
        {"tag": "b-only"},
        {"tag": "shared"},
        {"language": "Haskell"},
        {"sort": "name"},
        {"sort": "created_at"},
    ):
        items = await pocs.search_all(a, **params, limit=2)
        assert all(item["name"].startswith("Alpha") for item in items), params
    assert len(await pocs.search_all(b, q="zebrafish")) == 5
    assert len(await pocs.search_all(a, tag="shared")) == 3


async def test_cursors_cannot_reach_another_tenant(
    pocs: PocHarness, two_tenants: tuple[Account, Account, list[dict[str, Any]]]
) -> None:
    a, b, b_pocs = two_tenants
    # B's own cursor replayed by A (same search, so the fingerprint matches): only A's rows follow.
    b_cursor = (await pocs.search(b, tag="shared", limit=1)).json()["next_cursor"]
    replayed = await pocs.search(a, tag="shared", cursor=b_cursor, limit=100)
    assert replayed.status_code == 200
    assert all(item["name"].startswith("Alpha") for item in replayed.json()["items"])
    # Forged cursors positioned exactly on B's rows, for every sort, show nothing of B.
    for sort in ("-created_at", "created_at", "name", "-name"):
        print_ = cursors.fingerprint((None, None, [], None, None, None, sort))
        for poc in b_pocs:
            key: tuple[Any, ...]
            if sort.endswith("created_at"):
                micros = cursors.to_micros(_parse(poc["created_at"]))
                key = (micros + (1 if sort.startswith("-") else -1), poc["id"])
            else:
                key = ("zebrafish" if sort == "name" else "zzzzz", poc["id"])
            forged = cursors.encode(sort, print_, key)
            response = await pocs.search(a, sort=sort, cursor=forged, limit=100)
            assert response.status_code == 200, response.text
            assert all(item["name"].startswith("Alpha") for item in response.json()["items"]), sort
    # A relevance cursor forged with B's ids and scores.
    print_ = cursors.fingerprint(("zebrafish", None, [], None, None, None, "relevance"))
    forged = cursors.encode(
        "relevance", print_, (1000, cursors.to_micros(_parse(b_pocs[0]["created_at"])), b_pocs[0]["id"])
    )
    response = await pocs.search(a, q="zebrafish", cursor=forged)
    assert response.status_code == 200 and response.json()["items"] == []


async def test_raw_tampered_cursor_bytes_are_refused_or_harmless(
    pocs: PocHarness, two_tenants: tuple[Account, Account, list[dict[str, Any]]]
) -> None:
    a, _, _ = two_tenants
    cursor = (await pocs.search(a, limit=1)).json()["next_cursor"]
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for i in range(len(raw)):
        tampered = bytearray(raw)
        tampered[i] ^= 0x01
        token = base64.urlsafe_b64encode(bytes(tampered)).decode().rstrip("=")
        response = await pocs.search(a, cursor=token)
        assert response.status_code in (200, 422), (i, response.text)
        if response.status_code == 200:
            assert all(item["name"].startswith("Alpha") for item in response.json()["items"])


async def test_same_repository_in_two_tenants_is_independent(
    pocs: PocHarness, two_tenants: tuple[Account, Account, list[dict[str, Any]]]
) -> None:
    a, b, b_pocs = two_tenants
    mine = (await pocs.search(a, sort="created_at")).json()["items"]
    assert mine[0]["github_url"] == b_pocs[0]["github_url"]
    # A deletes its copy; B's remains.
    assert (await pocs.http.delete(f"/v1/pocs/{mine[0]['id']}", headers=a.auth)).status_code == 204
    assert (await pocs.http.get(f"/v1/pocs/{b_pocs[0]['id']}", headers=b.auth)).status_code == 200


async def test_database_refuses_what_the_app_might_get_wrong(
    pocs: PocHarness, two_tenants: tuple[Account, Account, list[dict[str, Any]]]
) -> None:
    a, b, b_pocs = two_tenants
    conn = await asyncpg.connect(pocs.database.service)
    try:
        # No tenant context: every table of the schema is empty.
        for table in POC_TABLES:
            assert await conn.fetchval(f"SELECT count(*) FROM poc.{table}") == 0, table  # noqa: S608
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", a.tenant_id)
            for table in POC_TABLES:
                tenants = await conn.fetch(f"SELECT DISTINCT tenant_id FROM poc.{table}")  # noqa: S608
                assert [str(r["tenant_id"]) for r in tenants] == [a.tenant_id], table
            # Even with B's ids spelled out, A's context reaches nothing of B.
            assert await conn.fetchval("SELECT count(*) FROM poc.pocs WHERE id = $1::uuid", b_pocs[0]["id"]) == 0
            assert await conn.execute("UPDATE poc.pocs SET name = 'x' WHERE id = $1::uuid", b_pocs[0]["id"]) == (
                "UPDATE 0"
            )
            assert await conn.execute("DELETE FROM poc.pocs WHERE id = $1::uuid", b_pocs[0]["id"]) == "DELETE 0"
        # Writing rows for B from A's context is refused by WITH CHECK, on every table.
        statements = [
            "INSERT INTO poc.pocs (tenant_id, owner_id, name, github_url, language)"
            " VALUES ($1::uuid, 'x', 'x', 'https://github.com/x/y', 'Go')",
            "INSERT INTO poc.outbox (tenant_id, aggregate_id, event_type, payload)"
            " VALUES ($1::uuid, gen_random_uuid(), 'poc.created', '{}')",
            "INSERT INTO poc.search_vocabulary (tenant_id, key, term, edits) VALUES ($1::uuid, 'k', 'k', 0)",
        ]
        # Moving A's POC to B is refused too (no privilege on tenant_id, and WITH CHECK behind it).
        statements.append("UPDATE poc.pocs SET tenant_id = $1::uuid")

        async def as_a(statement: str) -> None:
            async with conn.transaction():
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", a.tenant_id)
                await conn.execute(statement, b.tenant_id)

        for statement in statements:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await as_a(statement)
    finally:
        await conn.close()


def _parse(stamp: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(stamp)


def test_fingerprint_layout_matches_search_params() -> None:
    """The forged cursors above rely on this layout; keep them honest if it changes."""
    from poc_api.search import SearchParams

    assert SearchParams(sort="name").fingerprint_parts() == (None, None, [], None, None, None, "name")
    assert json.loads(json.dumps(SearchParams().fingerprint_parts())) is not None
