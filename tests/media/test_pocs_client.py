"""`media.pocs_client` against the real POC service (and identity) served on 127.0.0.1: the export round
trip, and each failure translated into the error the media service acts on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import pytest

from deploy.local import DatabaseUrls
from media.errors import SourceError, SourceUnavailable
from media.pocs_client import EXPIRED, ExportHandle, PocsClient
from media.reports.model import PocRow, ReportFilters
from runtime.errors import TooManyRequests, Unauthorized, ValidationFailed
from runtime.settings import Settings
from tests.netproxy import TcpProxy
from tests.poc.conftest import PocHarness, poc_fields, poc_harness


@pytest.fixture
async def pocs(make_settings: Callable[..., Settings], database: DatabaseUrls) -> AsyncIterator[PocHarness]:
    async with poc_harness(make_settings, database) as harness:
        yield harness


@pytest.fixture
async def client(pocs: PocHarness) -> AsyncIterator[PocsClient]:
    """The client as the media service builds it: from the settings (`pocdojo dev`: `public_url`)."""
    async with PocsClient.from_settings(pocs.settings) as made:
        yield made


async def rows(client: PocsClient, handle: ExportHandle, page_size: int = 1000) -> list[PocRow]:
    return [row async for row in client.iter_rows(handle, page_size=page_size)]


async def test_an_export_round_trip(pocs: PocHarness, client: PocsClient) -> None:
    admin = await pocs.tenant()
    member = await pocs.member(admin)
    names = ["Integração PIX", "São Paulo pagamentos", "Ábaco de pagamentos", "Ação pagamentos", "Kafka"]
    for n, name in enumerate(names):
        owner = member if n % 2 else admin
        await pocs.create(owner, **poc_fields(n, name=name, tags=["Pagamentos", "pix"] if n < 4 else ["kafka"]))
    filters = ReportFilters(q="pagamento", tags=("pix",), sort="name")
    handle = await client.create_export(admin.access_token, filters)
    expected = await pocs.search_all(admin, **dict(filters.as_query()))
    assert handle.count == len(expected) == 4
    assert handle.secret not in repr(handle)
    assert await rows(client, handle, page_size=3) == [PocRow.from_api(doc) for doc in expected]
    assert [row.name for row in await rows(client, handle)] == [
        "Ábaco de pagamentos", "Ação pagamentos", "Integração PIX", "São Paulo pagamentos",
    ]  # fmt: skip
    mine = await client.create_export(member.access_token, ReportFilters(owner="me"))
    assert [row.name for row in await rows(client, mine)] == ["Ação pagamentos", "São Paulo pagamentos"]
    await client.delete_export(handle)
    with pytest.raises(SourceError, match=EXPIRED):
        await rows(client, handle)
    await client.delete_export(handle)  # already gone: nothing to do
    with pytest.raises(ValueError, match="page_size"):
        await rows(client, mine, page_size=1001)


async def test_refusals_become_the_media_services_errors(
    make_settings: Callable[..., Settings], database: DatabaseUrls
) -> None:
    async with poc_harness(make_settings, database, poc_export_max_rows=2, poc_export_max_live_per_user=1) as pocs:
        admin = await pocs.tenant()
        for n in range(3):
            await pocs.create(admin, **poc_fields(n, tags=[f"t{n}"]))
        async with PocsClient(pocs.base) as client:
            with pytest.raises(ValidationFailed) as invalid:
                await client.create_export(
                    admin.access_token, ReportFilters(q="!!!", language="klingon", tags=("ok", ""), sort="popular")
                )
            assert [(e.field, e.code) for e in invalid.value.errors] == [
                ("filters.q", "no_search_terms"),
                ("filters.language", "unknown_language"),
                ("filters.tag.1", "invalid_tag"),
                ("filters.sort", "invalid_sort"),
            ]
            with pytest.raises(ValidationFailed) as too_many:
                await client.create_export(admin.access_token, ReportFilters())
            assert [(e.field, e.code) for e in too_many.value.errors] == [("filters", "too_many_results")]
            with pytest.raises(Unauthorized):
                await client.create_export("not-a-token", ReportFilters())
            handle = await client.create_export(admin.access_token, ReportFilters(tags=("t1",)))
            assert handle.count == 1
            with pytest.raises(TooManyRequests) as busy:
                await client.create_export(admin.access_token, ReportFilters(tags=("t2",)))
            assert 1 <= int(busy.value.headers["Retry-After"]) <= 60
            # An expired export: the worker is told in words it can show the user.
            conn = await asyncpg.connect(database.admin)
            try:
                await conn.execute(
                    "UPDATE poc.exports SET expires_at = now() - interval '1 second' WHERE id = $1",
                    uuid.UUID(handle.id),
                )
            finally:
                await conn.close()
            with pytest.raises(SourceError, match=EXPIRED) as expired:
                await rows(client, handle)
            assert not isinstance(expired.value, SourceUnavailable)
            forged = ExportHandle(handle.id, handle.secret[:-1] + "x", handle.count, handle.expires_at)
            with pytest.raises(SourceError, match=EXPIRED):
                await rows(client, forged)


async def test_a_stopped_service_is_unavailable(make_settings: Callable[..., Settings], database: DatabaseUrls) -> None:
    async with poc_harness(make_settings, database) as pocs:
        admin = await pocs.tenant()
        await pocs.create(admin, **poc_fields(1))
        client = PocsClient(pocs.base)
        handle = await client.create_export(admin.access_token, ReportFilters())
        assert len(await rows(client, handle)) == 1
    try:
        with pytest.raises(SourceUnavailable):
            await client.create_export(admin.access_token, ReportFilters())
        with pytest.raises(SourceUnavailable):
            await rows(client, handle)
        with pytest.raises(SourceUnavailable):
            await client.delete_export(handle)
    finally:
        await client.aclose()


async def test_a_cut_connection_and_a_failing_service_are_unavailable(
    make_settings: Callable[..., Settings], database: DatabaseUrls
) -> None:
    """Through a proxy that can cut the connection to the service; and the service without its database
    (a 5xx)."""
    postgres = httpx.URL(database.service)
    async with TcpProxy((postgres.host, postgres.port or 5432)) as db_link:
        service_url = str(postgres.copy_with(port=db_link.port))
        async with poc_harness(make_settings, database, database_url=service_url) as pocs:
            admin = await pocs.tenant()
            for n in range(5):
                await pocs.create(admin, **poc_fields(n))
            host, port = pocs.base.removeprefix("http://").split(":")
            async with (
                TcpProxy((host, int(port))) as http_link,
                PocsClient(f"http://127.0.0.1:{http_link.port}") as client,
            ):
                handle = await client.create_export(admin.access_token, ReportFilters())
                pages = client.iter_rows(handle, page_size=2)
                first = [await anext(pages), await anext(pages)]
                assert [row.id for row in first] == [row.id for row in (await rows(client, handle))[:2]]
                http_link.cut()
                with pytest.raises(SourceUnavailable):
                    await anext(pages)
                http_link.heal()
                assert len(await rows(client, handle)) == 5
                db_link.cut()  # the POC service loses its database: it answers 5xx
                with pytest.raises(SourceUnavailable, match="failed"):
                    await rows(client, handle)
                db_link.heal()


def test_the_service_url_defaults_to_the_public_url() -> None:
    """`pocdojo dev` serves every service at its `public_url`; deployed, `POCDOJO_POC_SERVICE_URL` says where."""
    assert Settings(public_url="http://127.0.0.1:8000/").poc_service_base == "http://127.0.0.1:8000"
    given = Settings(public_url="https://api.example.com", poc_service_url="http://poc.internal:8080/")
    assert given.poc_service_base == "http://poc.internal:8080"
