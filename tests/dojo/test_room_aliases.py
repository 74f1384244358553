"""One spelling per document: the other spellings of a dojo id (upper case, `urn:uuid:`, `uuid:`,
32 hex digits) are refused with a clear error at every entry point, never opened as a second
document that moderation does not follow."""

from __future__ import annotations

import httpx
from websockets.asyncio.client import connect

from crdt import CloseCode
from dojo.services import services_of as dojo_services
from tests.dojo.conftest import CollabServer
from tests.dojo.yclient import closed_with
from tests.signaling.client import SignalClient


def aliases(dojo_id: str) -> list[str]:
    return [dojo_id.upper(), f"urn:uuid:{dojo_id}", f"uuid:{dojo_id}", dojo_id.replace("-", "")]


async def test_every_other_spelling_of_a_dojo_id_is_refused_everywhere(
    collab: CollabServer, http: httpx.AsyncClient
) -> None:
    host = await collab.user(http)
    created = await http.post("/v1/dojos", json={"title": "Kata"}, headers=host.auth)
    assert created.status_code == 201, created.text
    dojo_id = created.json()["id"]
    signal_url = collab.ws_url.replace("/v1/collab", "/v1/signal")
    binary = {**host.auth, "Content-Type": "application/octet-stream"}
    for alias in aliases(dojo_id):
        # The collab websocket: permission denied, then 4400 (y-websocket does not retry 44xx).
        async with connect(f"{collab.ws_url}/{alias}", additional_headers=host.auth, compression=None) as ws:
            assert await closed_with(ws) == CloseCode.BAD_MESSAGE, alias
        # The signaling websocket: an error naming the canonical form, then 4400.
        async with SignalClient.connect(f"{signal_url}/{alias}", headers=host.auth, welcome=False) as peer:
            error = await peer.next("error")
            assert error["code"] == "bad_request" and dojo_id in error["detail"], (alias, error)
            assert (await peer.closed())[0] == CloseCode.BAD_MESSAGE, alias
        # The document API and plain-room tickets: 422 saying which spelling to use.
        for response in (
            await http.get(f"/v1/collab/{alias}/state", headers=host.auth),
            await http.get(f"/v1/collab/{alias}/content", headers=host.auth),
            await http.post(f"/v1/collab/{alias}/updates", content=b"\x00\x00", headers=binary),
            await http.post("/v1/collab/tickets", json={"room": alias}, headers=host.auth),
        ):
            assert response.status_code == 422, (alias, response.request.url, response.text)
            assert dojo_id in response.text, response.text
        # The dojo's own routes: no dojo by that name (and why).
        ticket = await http.post(f"/v1/dojos/{alias}/tickets", headers=host.auth)
        assert ticket.status_code == 404, (alias, ticket.text)
        assert dojo_id in ticket.json()["detail"]
    # No second document was created on the way; the canonical spelling still works.
    manager = dojo_services(collab.dojo_app).manager
    assert all(name.split("/", 1)[1] == dojo_id for name in manager.rooms)
    ticket = await http.post(f"/v1/dojos/{dojo_id}/tickets", headers=host.auth)
    assert ticket.status_code == 201 and ticket.json()["room"] == dojo_id
    state = await http.get(f"/v1/collab/{dojo_id}/state", headers=host.auth)
    assert state.status_code == 200
