"""`poc_api.catalogue_sizes`: counts per tenant, refreshed in the background, bounded, failure-tolerant;
the service takes the multi-word shortcut for large catalogues only, and answers the same either way."""

from __future__ import annotations

import asyncio
import logging

import pytest

import poc_api.catalogue_sizes as sizes_module
from poc_api.catalogue_sizes import CatalogueSizes
from poc_api.services import services_of as poc_services
from runtime.db import Database
from tests.poc.conftest import PocHarness, poc_fields


async def settle(sizes: CatalogueSizes) -> None:
    """Let the refreshes in flight finish."""
    while sizes._refreshing:
        await asyncio.gather(*sizes._refreshing.values(), return_exceptions=True)
        await asyncio.sleep(0)


async def test_counts_arrive_in_the_background_and_go_stale(pocs: PocHarness) -> None:
    a, b = await pocs.tenant(), await pocs.tenant()
    for n in range(3):
        await pocs.create(a, **poc_fields(n))
    await pocs.create(b, **poc_fields(0))
    now = [1000.0]
    async with Database(pocs.database.service, min_size=1, max_size=2) as db:
        sizes = CatalogueSizes(db, max_age=60, clock=lambda: now[0])
        assert sizes.get(a.tenant_id) is None  # not counted yet: the aggregation is used meanwhile
        await settle(sizes)
        assert sizes.get(a.tenant_id) == 3 and not sizes._refreshing
        await pocs.create(a, **poc_fields(3))
        now[0] += 59
        assert sizes.get(a.tenant_id) == 3
        now[0] += 2  # stale: the old count is served while a new one is made
        assert sizes.get(a.tenant_id) == 3
        await settle(sizes)
        assert sizes.get(a.tenant_id) == 4
        sizes.get(b.tenant_id)
        await settle(sizes)
        assert sizes.get(b.tenant_id) == 1  # row-level security: each count is its tenant's own
        assert not sizes.large(a.tenant_id)
        await sizes.aclose()
        capped = CatalogueSizes(db, count_up_to=2)  # a catalogue is counted only as far as it matters
        capped.get(a.tenant_id)
        await settle(capped)
        assert capped.get(a.tenant_id) == 2


async def test_refreshes_are_bounded_and_so_is_the_memo(pocs: PocHarness) -> None:
    tenants = [await pocs.tenant() for _ in range(4)]
    async with Database(pocs.database.service, min_size=1, max_size=2) as db:
        sizes = CatalogueSizes(db, max_refreshing=2, max_tenants=3)
        for account in tenants:
            sizes.get(account.tenant_id)
        assert len(sizes._refreshing) == 2
        await settle(sizes)
        for account in tenants:
            sizes.get(account.tenant_id)
            await settle(sizes)
        assert len(sizes._sizes) == 3
        await sizes.aclose()


async def test_a_failed_count_is_logged_and_retried(pocs: PocHarness, caplog: pytest.LogCaptureFixture) -> None:
    admin = await pocs.tenant()
    db = Database(pocs.database.service, min_size=1, max_size=1)
    sizes = CatalogueSizes(db)
    with caplog.at_level(logging.WARNING, logger="pocdojo.poc.sizes"):
        assert sizes.get(admin.tenant_id) is None  # the pool is not open: the count fails
        await settle(sizes)
    assert [r.getMessage() for r in caplog.records] == ["counting a tenant's POCs failed"]
    async with db:
        assert sizes.get(admin.tenant_id) is None
        await settle(sizes)
        assert sizes.get(admin.tenant_id) == 0


async def test_large_catalogues_take_the_shortcut_with_the_same_answers(
    pocs: PocHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await pocs.tenant()
    names = ["Pagamentos com fraude", "Fraude em pagamentos", "Pagamento e fraude", "Fraudes", "Pagamentos"]
    for n in range(12):
        await pocs.create(admin, **poc_fields(n, name=f"{names[n % 5]} {n}", description="pagamento e fraude"))
    queries = ("pagamento fraude", "fraudes pagamentos", "pagamnto fraude")
    expected = {q: await pocs.search_all(admin, q=q, limit=1) for q in queries}
    service = poc_services(pocs.poc_app).pocs
    monkeypatch.setattr(sizes_module, "SHORTCUT_FROM", 10)
    service.sizes.get(admin.tenant_id)
    await settle(service.sizes)
    assert service.sizes.large(admin.tenant_id)
    for q in queries:
        for limit in (1, 3, 20):
            page = (await pocs.search(admin, q=q, limit=limit)).json()["items"]
            assert page == expected[q][:limit], (q, limit)
