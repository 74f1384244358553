"""Drain on SIGTERM: a real `pocdojo serve dojo` process with real y-websocket clients editing two
rooms is sent SIGTERM. Every client gets 1001 (going away: reconnect elsewhere), the process exits
cleanly, and every edit the server had acknowledged — including the last ones, made well inside the
save debounce, so still pending in memory when the signal came — is in PostgreSQL afterwards.
"""

from __future__ import annotations

import signal
from typing import Any

import pytest

from crdt import CloseCode
from tests.cluster.conftest import Cluster
from tests.jsclient import JsClient

ROOMS = ("drain-a", "drain-b")


def _closed(event: dict[str, Any]) -> bool:
    return event.get("event") == "connectionClose"


@pytest.mark.slow
async def test_sigterm_closes_every_client_with_1001_and_stores_every_acknowledged_edit(cluster: Cluster) -> None:
    # The longest save delays the settings allow: edits made just before SIGTERM are not stored yet.
    settings = {"POCDOJO_COLLAB_PERSIST_DEBOUNCE_SECONDS": "1.0", "POCDOJO_COLLAB_PERSIST_MAX_DELAY_SECONDS": "5.0"}
    node = cluster.node("node1", settings=settings)
    await cluster.start(node)
    expected: dict[str, str] = {}
    async with (
        JsClient.start(node.ws_url, ROOMS[0], params={"ticket": cluster.ticket(ROOMS[0], "u1")}) as a1,
        JsClient.start(node.ws_url, ROOMS[0], params={"ticket": cluster.ticket(ROOMS[0], "u2")}) as a2,
        JsClient.start(node.ws_url, ROOMS[1], params={"ticket": cluster.ticket(ROOMS[1], "u3")}) as b1,
        JsClient.start(node.ws_url, ROOMS[1], params={"ticket": cluster.ticket(ROOMS[1], "u4")}) as b2,
    ):
        clients = [a1, a2, b1, b2]
        for client in clients:
            await client.wait_synced()
        for room, (author, peer) in zip(ROOMS, ((a1, a2), (b1, b2)), strict=True):
            text = ""
            for i in range(10):
                edit = f"{room}:{i};"
                await author.insert(len(text), edit)
                text += edit
            # The peer has every edit: the server accepted (and, with Redis, logged) them all.
            await peer.wait_text(text)
            expected[room] = text

        assert node.proc is not None
        node.proc.terminate()  # SIGTERM, as an orchestrator stops a node
        for client in clients:
            closed = await client.wait_event(_closed, within=15.0)
            assert closed["code"] == CloseCode.GOING_AWAY, closed
        # A clean exit: the shutdown ran to its end, then uvicorn re-raised the SIGTERM it had handled.
        assert await node.wait_exit() in (0, -signal.SIGTERM), node.tail()
        assert "Application shutdown complete." in node.log_text(), node.tail()

    # The process has exited: what it stored is all there is.
    for room, text in expected.items():
        assert await cluster.read_store(room) == text, room
