"""Issue #5, node death: 30 clients edit continuously over three nodes and one node is killed with
SIGKILL. Its clients reconnect to the others; at the end every client, every node (the killed one
restarted too) and a reload from PostgreSQL hold the same document, and it holds every edit its
author saw echoed back by a server.

Clients: 27 Python editors (9 per node; each falls over to the next node's URL when its connection
is lost) and 3 Node y-websocket clients behind a round-robin balancer (one lands on each node; the
one on the killed node is sent to a surviving node when it reconnects). Three of the killed node's
Python editors do *not* reconnect: like apps that died with the node, they never resend anything,
so only what the cluster kept of their edits can survive — which must include every edit they saw
echoed (the durable-before-echo gate).
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.cluster.conftest import Cluster, wait_for
from tests.cluster.editing import (
    Editor,
    JsEditor,
    acknowledged,
    check_document,
    edit_continuously,
    running,
    texts,
    tokens_in,
)
from tests.jsclient import JsClient
from tests.netproxy import Balancer

ROOM = "node-death"
EDIT_SECONDS = 8.0
KILL_AFTER = 3.0


@pytest.mark.slow
async def test_kill_9_a_node_during_continuous_editing(cluster: Cluster) -> None:
    # The doomed node reaches Redis through a link with 50 ms of latency each way, so that a change
    # it accepts takes >= 100 ms to become durable: were echoes not held back until then, the kill
    # would catch echoed edits of its one-shot clients in that window, and they would be lost.
    slow_link = await cluster.proxy(cluster.redis.address, latency=0.05)
    doomed = cluster.node("node1", redis_url=cluster.redis.url_via(slow_link.address))
    nodes = [doomed, cluster.node("node2"), cluster.node("node3")]
    await cluster.start(*nodes)
    py: list[Editor] = []
    for i in range(27):
        home = i % 3
        order = [nodes[(home + k) % 3] for k in range(3)]
        one_shot = home == 0 and i < 9  # editors 0, 3 and 6 die with their node
        py.append(
            Editor(i, [cluster.url(n, ROOM, f"py{i}") for n in order], reconnect=not one_shot, home=nodes[home].name)
        )
    async with Balancer([n.address for n in nodes]) as balancer, running(py):
        lb_url = f"ws://127.0.0.1:{balancer.port}/v1/collab"
        async with (
            JsClient.start(lb_url, ROOM, params={"ticket": cluster.ticket(ROOM, "js27")}, max_backoff_ms=500) as js27,
            JsClient.start(lb_url, ROOM, params={"ticket": cluster.ticket(ROOM, "js28")}, max_backoff_ms=500) as js28,
            JsClient.start(lb_url, ROOM, params={"ticket": cluster.ticket(ROOM, "js29")}, max_backoff_ms=500) as js29,
        ):
            js_clients = (js27, js28, js29)
            await asyncio.gather(*(e.synced.wait() for e in py), *(c.wait_synced(within=20) for c in js_clients))
            # One Node client per node (round-robin), so one of them is on the node we kill.
            assert [balancer.connections_to(n.address) for n in nodes] == [1, 1, 1]
            js = [JsEditor(27 + i, c, home="balancer") for i, c in enumerate(js_clients)]
            editors: list[Editor | JsEditor] = [*py, *js]

            loop = asyncio.get_running_loop()
            editing = asyncio.create_task(edit_continuously(editors, loop.time() + EDIT_SECONDS, interval=0.1))
            await asyncio.sleep(KILL_AFTER)
            doomed.kill()
            assert await doomed.wait_exit() == -signal.SIGKILL
            await editing

            survivors = [e for e in editors if not (isinstance(e, Editor) and not e.reconnect)]
            one_shots = [e for e in py if not e.reconnect]
            made_by_survivors = {t for e in survivors for t in e.made}
            echoed = acknowledged(editors)
            expected = made_by_survivors | echoed

            async def converged() -> bool:
                if not all(e.synced.is_set() for e in py if e.reconnect):
                    return False
                current = await texts(survivors)
                return len(set(current)) == 1 and not check_document(current[0], expected)

            await wait_for(
                converged, 30, "every surviving client holds the same complete document", detail=lambda: _state(py)
            )
            final = str(survivors[0].text) if isinstance(survivors[0], Editor) else ""
            assert not check_document(final, expected)

            # The killed node's clients are elsewhere now.
            for editor in py:
                if editor.home == doomed.name and editor.reconnect:
                    assert editor.connections >= 2, editor
                    assert editor.url is not None and not editor.url.startswith(doomed.ws_url), editor
                if not editor.reconnect:
                    assert editor.dead.is_set(), f"{editor} should have lost its connection with {doomed.name}"
            assert balancer.connections_to(doomed.address) == 0
            for client in js_clients:
                assert await client.status() == ("connected", True)
                assert await client.get_text() == final
            lost = {t for e in one_shots for t in e.made} - set(tokens_in(final))
            print(
                f"{len(expected)} tokens expected, {len(echoed)} echoed; the one-shot clients made "
                f"{sum(len(e.made) for e in one_shots)} edits, saw {sum(len(e.echoed) for e in one_shots)} "
                f"echoed, and {len(lost)} unechoed ones are gone with the node"
            )

    # Every node holds it: the two survivors, and the killed one once restarted (from PostgreSQL
    # and the shared log).
    for node in nodes[1:]:
        assert await cluster.read_node(node, ROOM) == final, node.name
    await doomed.start()
    assert await cluster.read_node(doomed, ROOM) == final

    async def stored() -> bool:
        return await cluster.read_store(ROOM) == final

    await wait_for(stored, 20, "a reload from PostgreSQL gives the final document")


def _state(editors: list[Editor]) -> str:
    lengths = sorted({len(e.text) for e in editors})
    unsynced = [e.number for e in editors if e.reconnect and not e.synced.is_set()]
    return f"text lengths {lengths}, unsynced editors {unsynced}"
