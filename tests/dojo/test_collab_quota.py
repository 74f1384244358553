"""The per-tenant document storage quota: a usage counter kept with every store write, its migration,
and refusals on the socket (4402) and the HTTP API (413) that lose nothing and spare other tenants."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from pycrdt import Doc, Text

from crdt import CloseCode
from deploy.local import DatabaseUrls
from dojo.docstore import PostgresDocumentStore, room_key
from dojo.services import services_of as dojo_services
from runtime import migrations
from runtime.db import Database
from runtime.settings import Settings
from tests.conftest import wait_until
from tests.dojo.conftest import CollabServer
from tests.dojo.test_collab_store import _edits
from tests.jsclient import JsClient

CRDT = migrations.ServiceSchema("crdt", "crdt")
QUOTA = 64 * 1024
OCTET = {"Content-Type": "application/octet-stream"}


async def _sum_stored(db: Database, tenant: uuid.UUID) -> int:
    async with db.tenant_tx(tenant) as conn:
        total = await conn.fetchval(
            "SELECT coalesce((SELECT sum(octet_length(snapshot)) FROM crdt.documents), 0)"
            " + coalesce((SELECT sum(octet_length(data)) FROM crdt.updates), 0)"
        )
    return int(total)


async def test_usage_counter_follows_appends_and_compactions(database: DatabaseUrls) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    async with Database(database.service) as db:
        store = PostgresDocumentStore(db)
        assert await store.tenant_usage(tenant) == 0
        updates = _edits(300)
        await store.append(room_key(tenant, "a"), updates[:100])
        await store.append(room_key(tenant, "b"), updates[100:])
        await store.append(room_key(other, "a"), updates[:10])
        assert await store.tenant_usage(tenant) == await _sum_stored(db, tenant) > 0
        assert await store.compact(room_key(tenant, "a")) is True
        assert await store.compact(room_key(tenant, "a")) is True  # nothing new: no change
        await store.append(room_key(tenant, "a"), _edits(320)[300:])
        assert await store.compact(room_key(tenant, "a")) is True  # replaces a snapshot
        assert await store.tenant_usage(tenant) == await _sum_stored(db, tenant)
        assert await store.tenant_usage(other) == await _sum_stored(db, other) == sum(map(len, updates[:10]))


async def test_migration_counts_what_is_stored_and_rolls_back(database: DatabaseUrls) -> None:
    tenant = uuid.uuid4()
    owner = await asyncpg.connect(database.owner)
    try:
        assert await migrations.downgrade(owner, CRDT, steps=1) == [2]
        assert await owner.fetchval("SELECT to_regclass('crdt.tenant_usage')") is None
        async with Database(database.service) as db:
            await PostgresDocumentStore(db).append(room_key(tenant, "doc"), _edits(40))
            assert await migrations.upgrade(owner, CRDT) == [2]
            store = PostgresDocumentStore(db)
            assert await store.tenant_usage(tenant) == await _sum_stored(db, tenant) > 0
            # RLS: without the tenant's context the counter is invisible.
            service = await asyncpg.connect(database.service)
            try:
                assert await service.fetchval("SELECT count(*) FROM crdt.tenant_usage") == 0
            finally:
                await service.close()
    finally:
        await owner.close()


def _text_update(text: str, client_id: int) -> bytes:
    doc: Doc[Any] = Doc(client_id=client_id)
    doc.get("text", type=Text).insert(0, text)
    return doc.get_update()


@pytest.fixture
async def quota_server(make_settings: Callable[..., Settings]) -> AsyncIterator[CollabServer]:
    server = CollabServer(make_settings, overrides={"collab_tenant_storage_quota_bytes": QUOTA})
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_tenant_over_its_quota_is_refused_and_loses_nothing(quota_server: CollabServer) -> None:
    server = quota_server
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        acme, other = await server.user(http), await server.user(http)
        first = "a" * (40 * 1024)
        posted = await http.post(
            "/v1/collab/notes/updates", content=_text_update(first, 1), headers={**acme.auth, **OCTET}
        )
        assert posted.status_code == 204, posted.text
        # Room for small edits is left...
        small = await http.post(
            "/v1/collab/notes/updates", content=_text_update("b", 2), headers={**acme.auth, **OCTET}
        )
        assert small.status_code == 204, small.text
        # ...not for another 40 KiB, in any of the tenant's documents.
        refused = await http.post(
            "/v1/collab/other-doc/updates", content=_text_update("c" * (40 * 1024), 3), headers={**acme.auth, **OCTET}
        )
        assert refused.status_code == 413, refused.text
        assert refused.json()["type"].endswith("/storage-quota-exceeded")
        # The real y-websocket client's too-large edit: the socket closes with 4402 and it stays away.
        ticket = await server.ticket(http, acme, "notes")
        async with JsClient.start(server.ws_url, "notes", params={"ticket": ticket}) as js:
            await js.wait_synced()
            await js.insert(0, "d" * (40 * 1024))
            closed = await js.wait_event(lambda e: e["event"] == "closed")
            assert closed["code"] == CloseCode.QUOTA_EXCEEDED
        # Nothing stored is lost, and the store holds exactly what was admitted.
        content = await http.get("/v1/collab/notes/content", params={"text": "text"}, headers=acme.auth)
        assert sorted(content.json()["text"]["text"]) == sorted(first + "b")
        store: PostgresDocumentStore = dojo_services(server.dojo_app).store

        async def stored() -> bool:
            return await store.tenant_usage(uuid.UUID(acme.tenant_id)) > 40 * 1024

        await wait_until(stored)
        # Another tenant is not affected.
        theirs = await http.post(
            "/v1/collab/notes/updates", content=_text_update(first, 4), headers={**other.auth, **OCTET}
        )
        assert theirs.status_code == 204, theirs.text


async def test_the_quota_is_read_from_the_store_on_load(quota_server: CollabServer) -> None:
    """Writes this node never saw (another node's, stored before) count: the figure comes from
    PostgreSQL when a room of the tenant loads."""
    server = quota_server
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        acme = await server.user(http)
        store: PostgresDocumentStore = dojo_services(server.dojo_app).store
        await store.append(room_key(acme.tenant_id, "filled"), [_text_update("x" * QUOTA, 5)])
        refused = await http.post(
            "/v1/collab/new/updates", content=_text_update("y", 6), headers={**acme.auth, **OCTET}
        )
        assert refused.status_code == 413, refused.text
