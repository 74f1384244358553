"""Engine errors reach the client as their close code (4422), never as 1011 (which y-websocket
retries forever), on the real server with a real y-websocket client in the room."""

from __future__ import annotations

import httpx
from pycrdt import Doc, Text
from websockets.asyncio.client import connect

from crdt import CloseCode, encode_sync_update
from dojo.services import services_of as dojo_services
from tests.conftest import wait_until
from tests.crdt.malformed import integrating_part_way
from tests.dojo.conftest import CollabServer
from tests.dojo.yclient import closed_with
from tests.jsclient import JsClient


async def test_an_update_the_engine_fails_part_way_closes_4422_and_replicas_agree(
    collab: CollabServer, http: httpx.AsyncClient
) -> None:
    user = await collab.user(http)
    room = "engine-errors"
    update = integrating_part_way()  # pycrdt raises RuntimeError while integrating it
    async with JsClient.start(collab.ws_url, room, params={"ticket": await collab.ticket(http, user, room)}) as js:
        await js.wait_synced()
        await js.insert(0, "before")
        async with connect(f"{collab.ws_url}/{room}", additional_headers=user.auth, compression=None) as bad:
            await bad.send(encode_sync_update(update))
            assert await closed_with(bad) == CloseCode.UPDATE_REJECTED
        # The same bytes through the document API (to a fresh document): a 400 problem, not a 500.
        response = await http.post(
            f"/v1/collab/{room}-http/updates",
            content=update,
            headers={**user.auth, "Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        # The real client was not disturbed and holds what the server holds.
        await js.insert(0, "!")

        async def same_text() -> bool:
            served = await http.get(f"/v1/collab/{room}/content", params={"text": "text"}, headers=user.auth)
            return bool(served.json()["text"]["text"] == await js.get_text())

        await wait_until(same_text)
        assert (await js.get_text()).startswith("!")
        assert not [e for e in js.events if e.get("event") in ("connectionClose", "closed")]


async def test_a_server_update_to_a_sealed_document_is_a_409(collab: CollabServer, http: httpx.AsyncClient) -> None:
    user = await collab.user(http)
    room = "sealed"
    manager = dojo_services(collab.dojo_app).manager
    await manager.seal(f"{user.tenant_id}/{room}")  # as a dojo's end does
    doc: Doc[Text] = Doc()
    doc.get("text", type=Text).insert(0, "too late")
    response = await http.post(
        f"/v1/collab/{room}/updates",
        content=doc.get_update(),
        headers={**user.auth, "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await manager.read_state(f"{user.tenant_id}/{room}") == Doc().get_update()
