"""Close codes end to end: a real server (identity + dojo, as `pocdojo dev` serves them), real Node
y-websocket clients, the document in PostgreSQL.

- 1011 when a room's stored log cannot be loaded, with its reason; other rooms keep working and the
  stored rows stay as they were (nothing deleted to "repair" the room).
- 4413 for an update past `POCDOJO_COLLAB_MAX_DOCUMENT_BYTES`, read from the environment like any
  deployment sets it; the document keeps what it had, on the node and in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pycrdt import merge_updates

from crdt import CloseCode
from dojo.docstore import room_key
from dojo.services import services_of as dojo_services
from runtime.settings import Settings
from tests.conftest import wait_until
from tests.crdt.fakes import document_text
from tests.dojo.conftest import CollabServer, User
from tests.jsclient import JsClient

GARBAGE = b"\xff\xff\xff\xff"  # no Yjs update: the varint of its struct count never ends


def _closed_with(code: int) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event.get("event") == "connectionClose" and event.get("code") == code


async def _params(collab: CollabServer, http: httpx.AsyncClient, user: User, room: str) -> dict[str, str]:
    return {"ticket": await collab.ticket(http, user, room)}


async def test_a_room_that_cannot_load_closes_with_1011_and_other_rooms_work(
    collab: CollabServer, http: httpx.AsyncClient
) -> None:
    user = await collab.user(http)
    store = dojo_services(collab.dojo_app).store
    broken = room_key(user.tenant_id, "broken")
    await store.append(broken, [GARBAGE])
    async with (
        JsClient.start(collab.ws_url, "broken", params=await _params(collab, http, user, "broken")) as victim,
        JsClient.start(collab.ws_url, "fine", params=await _params(collab, http, user, "fine")) as a,
        JsClient.start(collab.ws_url, "fine", params=await _params(collab, http, user, "fine")) as b,
    ):
        closed = await victim.wait_event(_closed_with(CloseCode.INTERNAL_ERROR), within=10.0)
        assert closed["reason"] == "the document could not be loaded; retry"
        assert (await victim.status())[1] is False  # never synced

        await a.wait_synced()
        await b.wait_synced()
        await a.insert(0, "still ")
        await b.wait_text("still ")
        await b.insert(6, "working")
        await a.wait_text("still working")
    assert await store.load(broken) == [GARBAGE]


async def test_an_update_past_the_configured_document_size_gets_4413_and_changes_nothing(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POCDOJO_COLLAB_MAX_DOCUMENT_BYTES", "4096")
    collab = CollabServer(make_settings)
    assert collab.settings.collab_max_document_bytes == 4096  # read from the environment, not passed by the test
    await collab.start()
    try:
        async with httpx.AsyncClient(base_url=collab.base, timeout=30) as http:
            user = await collab.user(http)
            room = "small"
            async with (
                JsClient.start(collab.ws_url, room, params=await _params(collab, http, user, room)) as author,
                JsClient.start(collab.ws_url, room, params=await _params(collab, http, user, room)) as other,
            ):
                await author.wait_synced()
                await other.wait_synced()
                await author.insert(0, "kept")
                await other.wait_text("kept")

                await author.insert(4, "x" * 5000)
                await author.wait_event(_closed_with(CloseCode.DOCUMENT_TOO_LARGE), within=10.0)
                await other.insert(0, "still ")  # the room goes on for the others
                async with JsClient.start(collab.ws_url, room, params=await _params(collab, http, user, room)) as late:
                    await late.wait_synced()
                    await late.wait_text("still kept")
                assert await other.get_text() == "still kept"
                store = dojo_services(collab.dojo_app).store

                async def stored() -> bool:
                    updates = await store.load(room_key(user.tenant_id, room))
                    return bool(updates) and document_text(merge_updates(*updates)) == "still kept"

                await wait_until(stored)
    finally:
        await collab.stop()
