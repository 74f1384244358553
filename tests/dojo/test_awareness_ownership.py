"""Presence belongs to the connection that introduced it: two real y-websocket clients and a raw
attacker connection in one room, on the real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from websockets.asyncio.client import ClientConnection, connect

from crdt import AwarenessEntry, CloseCode, encode_awareness
from dojo.services import services_of as dojo_services
from tests.conftest import wait_until
from tests.dojo.conftest import CollabServer
from tests.dojo.yclient import closed_with
from tests.jsclient import JsClient

HOST = {"user": "host", "cursor": 3}
ATTACKER_ID = 999_999


def _frame(*entries: tuple[int, int, str]) -> bytes:
    return encode_awareness(AwarenessEntry(cid, clock, state) for cid, clock, state in entries)


@dataclass
class Scene:
    host: JsClient
    observer: JsClient
    host_id: int
    attacker: ClientConnection
    room_key: str

    async def observer_sees(self, client_id: int, state: object) -> bool:
        return (await self.observer.awareness()).get(client_id) == state

    async def host_still_here(self) -> None:
        """The host is connected, present, and its next change reaches the observer."""
        moved = {"user": "host", "cursor": 4}
        await self.host.set_awareness(moved)
        await wait_until(lambda: self.observer_sees(self.host_id, moved))
        assert not [e for e in self.host.events if e.get("event") in ("connectionClose", "closed")]
        assert (await self.host.request("status"))["status"] == "connected"


@asynccontextmanager
async def scene(collab: CollabServer, http: httpx.AsyncClient, room: str) -> AsyncIterator[Scene]:
    user = await collab.user(http)

    async def ticket() -> dict[str, str]:
        return {"ticket": await collab.ticket(http, user, room)}

    async with (
        JsClient.start(collab.ws_url, room, params=await ticket()) as host,
        JsClient.start(collab.ws_url, room, params=await ticket()) as observer,
        connect(f"{collab.ws_url}/{room}", additional_headers=user.auth, compression=None) as attacker,
    ):
        await host.wait_synced()
        await observer.wait_synced()
        await host.set_awareness(HOST)
        found = Scene(host, observer, await host.client_id(), attacker, f"{user.tenant_id}/{room}")
        await wait_until(lambda: found.observer_sees(found.host_id, HOST))
        yield found


async def test_another_connection_cannot_overwrite_or_remove_presence(
    collab: CollabServer, http: httpx.AsyncClient
) -> None:
    async with scene(collab, http, "presence-owner") as s:
        # Overwrite the host's presence, then remove it, with clocks ahead of the host's ...
        await s.attacker.send(_frame((s.host_id, 1000, '{"user":"host","cursor":666}')))
        await s.attacker.send(_frame((s.host_id, 1001, "null")))
        # ... then announce itself: once the observer sees that, the frames before it were handled.
        await s.attacker.send(_frame((ATTACKER_ID, 1, '{"user":"attacker"}')))
        await wait_until(lambda: s.observer_sees(ATTACKER_ID, {"user": "attacker"}))
        assert (await s.observer.awareness()).get(s.host_id) == HOST
        assert (await s.host.awareness()).get(s.host_id) == HOST
        assert dojo_services(collab.dojo_app).manager.get(s.room_key).awareness_foreign_dropped == 2
        await s.host_still_here()


async def test_a_clock_near_2_53_closes_its_sender_not_the_client_owning_the_id(
    collab: CollabServer, http: httpx.AsyncClient
) -> None:
    async with scene(collab, http, "presence-clock") as s:
        # Relayed, a removal at 2**53 - 1 made the host's client answer at 2**53, which lib0 cannot
        # decode: the server closed the *host* with 4400, and y-websocket does not come back after 44xx.
        await s.attacker.send(_frame((s.host_id, 2**53 - 1, "null")))
        await s.host_still_here()
        assert await closed_with(s.attacker) == CloseCode.BAD_MESSAGE
        assert (await s.observer.awareness()).get(s.host_id) == {"user": "host", "cursor": 4}
