"""A socket's life in the logs: our own `ws.open` / `ws.close` / `ws.refused` lines (room, tenant, user,
close code, duration; never the ticket) on the collab fast path, the collab ASGI path and signaling, while
uvicorn's own websocket lines stay below INFO."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from websockets.asyncio.client import connect

from runtime.logs import JsonFormatter
from runtime.settings import Settings
from tests.conftest import socket_event_seen, socket_events, wait_until
from tests.dojo.conftest import CollabServer
from tests.jsclient import JsClient


@pytest.mark.parametrize(("protocol", "transport"), [(None, "fast"), ("websockets-sansio", "asgi")])
async def test_a_collab_socket_logs_its_open_and_close(
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
    quiet_uvicorn: None,
    protocol: str | None,
    transport: str,
) -> None:
    server = CollabServer(make_settings) if protocol is None else CollabServer(make_settings, ws_protocol=protocol)
    await server.start()
    caplog.set_level(logging.INFO)
    try:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            user = await server.user(http)
            ticket = await server.ticket(http, user, "logged")
            async with JsClient.start(server.ws_url, "logged", params={"ticket": ticket}) as js:
                await js.wait_synced()
                await wait_until(socket_event_seen(caplog, "ws.open"))
            await wait_until(socket_event_seen(caplog, "ws.close"))
            async with connect(f"{server.ws_url}/logged?ticket=forged") as refused:
                await refused.wait_closed()
            await wait_until(socket_event_seen(caplog, "ws.refused"))
    finally:
        await server.stop()
    [opened] = socket_events(caplog, "ws.open")
    [closed] = socket_events(caplog, "ws.close")
    [turned_away] = socket_events(caplog, "ws.refused")
    expected = {
        "endpoint": "collab",
        "transport": transport,
        "room": "logged",
        "tenant_id": user.tenant_id,
    }
    assert expected.items() <= opened.items() and expected.items() <= closed.items()
    assert opened["user_id"] == closed["user_id"] and opened["user_id"]
    assert closed["code"] == 1005, closed  # y-websocket closes without a status code
    assert isinstance(closed["duration_ms"], float) and closed["duration_ms"] >= 0
    assert turned_away["code"] == 4401 and turned_away["room"] == "logged"
    text = caplog.text + "".join(JsonFormatter().format(r) for r in caplog.records)
    assert ticket not in text and "forged" not in text and "\x1b[" not in text
    uvicorn_info = [r for r in caplog.records if r.name.startswith("uvicorn") and "WebSocket" in r.getMessage()]
    assert [r for r in uvicorn_info if r.levelno >= logging.INFO] == []
