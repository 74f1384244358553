"""The same endpoint on a server that does not run our fast-path protocol (plain uvicorn
websockets-sansio): the ASGI adapter must behave the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from websockets.asyncio.client import connect

from crdt import CloseCode, encode_sync_update
from runtime.settings import Settings
from tests.conftest import wait_until
from tests.dojo.conftest import CollabServer, scrape, value
from tests.dojo.yclient import PyClient, closed_with
from tests.jsclient import JsClient


@pytest.fixture
async def asgi_collab(make_settings: Callable[..., Settings]) -> AsyncIterator[CollabServer]:
    server = CollabServer(make_settings, ws_protocol="websockets-sansio")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_asgi_path_converges_and_refuses_bad_input(asgi_collab: CollabServer) -> None:
    async with httpx.AsyncClient(base_url=asgi_collab.base, timeout=30) as http:
        user = await asgi_collab.user(http)
        room = "asgi"
        ticket = await asgi_collab.ticket(http, user, room)
        ro_ticket = await asgi_collab.ticket(http, user, room, mode="read-only")
        before = await scrape(http)
        async with (
            JsClient.start(asgi_collab.ws_url, room, params={"ticket": ticket}) as js,
            PyClient.connect(f"{asgi_collab.ws_url}/{room}", headers=user.auth) as py,
            PyClient.connect(f"{asgi_collab.ws_url}/{room}?ticket={ro_ticket}") as reader,
        ):
            await js.wait_synced()
            await asyncio.wait_for(py.synced.wait(), 5)
            await asyncio.wait_for(reader.synced.wait(), 5)
            await js.insert(0, "asgi ")
            await py.wait_text("asgi ")
            py.text.insert(5, "works")
            await js.wait_text("asgi works")
            reader.text.insert(0, "nope ")
            await asyncio.sleep(0.2)  # waits out a negative: the read-only client's edit must not arrive
            assert await js.get_text() == "asgi works"
            for frame, code in (
                (b"\x07", CloseCode.BAD_MESSAGE),
                (encode_sync_update(b"\x01\x02\x03"), CloseCode.UPDATE_REJECTED),
            ):
                async with connect(
                    f"{asgi_collab.ws_url}/{room}", additional_headers=user.auth, compression=None
                ) as bad:
                    await bad.send(frame)
                    assert await closed_with(bad) == code
            async with connect(f"{asgi_collab.ws_url}/{room}", additional_headers=user.auth, compression=None) as bad:
                await bad.send("text")
                assert await closed_with(bad) == CloseCode.UNSUPPORTED_DATA
            async with connect(f"{asgi_collab.ws_url}/{room}", additional_headers=user.auth, compression=None) as bye:
                await bye.recv()  # the server's step1
            # The adapter reports how each connection ended: the codes we closed with, and the client's own.

            async def closes_counted() -> bool:
                now = await scrape(http)
                return all(
                    value(now, "pocdojo_collab_closes_total", code=str(code))
                    == value(before, "pocdojo_collab_closes_total", code=str(code)) + 1
                    for code in (4400, 4422, 1003, 1000)
                )

            await wait_until(closes_counted)
            await js.insert(10, "!")
            await py.wait_text("asgi works!")
