"""Issue #5, node death: 30 clients edit continuously over three nodes and one node is killed with
SIGKILL. Its clients reconnect to the others; at the end every client, every node (the killed one
restarted too) and a reload from PostgreSQL hold the same document, and it holds every edit its
author saw echoed back by a server.

Room ``node-death``: 27 Python editors (9 per node; each falls over to the next node's URL when its
connection is lost) and 3 Node y-websocket clients behind a round-robin balancer (one lands on each
node; the one on the killed node is sent to a surviving node when it reconnects).

In that room a reconnecting client resends everything it holds — its own unacknowledged edits and
whatever the dead node had delivered to it — so nothing can be lost there even without the
durable-before-echo gate. Room ``node-death-one-shot`` checks the gate itself: its only clients on
the doomed node are three fast editors that do *not* reconnect (apps that died with the node), and
the doomed node reaches Redis through a link with 50 ms of latency each way whose in-flight bytes are
lost when the node dies (its host loses power). Only the shared log can then preserve their edits,
and it must hold every one they saw echoed. (Checked against a copy of the product whose gate
echoes before the append is acknowledged: there this room loses echoed edits.)
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.cluster.conftest import Cluster, Node
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
from tests.conftest import wait_until
from tests.jsclient import JsClient
from tests.netproxy import Balancer, TcpProxy

ROOM = "node-death"
ONE_SHOT_ROOM = "node-death-one-shot"
EDIT_SECONDS = 8.0
ECHOED_BEFORE_KILL = 10


@pytest.mark.slow
async def test_kill_9_a_node_during_continuous_editing(cluster: Cluster) -> None:
    slow_link = await cluster.proxy(cluster.redis.address, latency=0.05)
    doomed = cluster.node("node1", redis_url=cluster.redis.url_via(slow_link.address))
    nodes = [doomed, cluster.node("node2"), cluster.node("node3")]
    await cluster.start(*nodes)

    py: list[Editor] = []
    for i in range(27):
        home = i % 3
        order = [nodes[(home + k) % 3] for k in range(3)]
        py.append(Editor(i, [cluster.url(n, ROOM, f"py{i}") for n in order], home=nodes[home].name))
    one_shots = [
        Editor(40 + i, [cluster.url(doomed, ONE_SHOT_ROOM, f"one-shot{i}")], reconnect=False, home=doomed.name)
        for i in range(3)
    ]
    observers = [
        Editor(43 + i, [cluster.url(n, ONE_SHOT_ROOM, f"observer{i}")], home=n.name) for i, n in enumerate(nodes[1:])
    ]

    async with running(observers):
        final, one_shot_echoed = await _edit_and_kill(cluster, nodes, slow_link, py, one_shots, observers)
        await _check_after_restart(cluster, nodes, final, one_shot_echoed, observers)


async def _edit_and_kill(
    cluster: Cluster,
    nodes: list[Node],
    slow_link: TcpProxy,
    py: list[Editor],
    one_shots: list[Editor],
    observers: list[Editor],
) -> tuple[str, set[str]]:
    """Edit in both rooms, kill node1 mid-way, check both rooms on the survivors; returns (the final
    document of the main room, what the one-shot clients saw echoed)."""
    doomed = nodes[0]
    async with Balancer([n.address for n in nodes]) as balancer, running([*py, *one_shots]):
        lb_url = f"ws://127.0.0.1:{balancer.port}/v1/collab"
        async with (
            JsClient.start(lb_url, ROOM, params={"ticket": cluster.ticket(ROOM, "js27")}, max_backoff_ms=500) as js27,
            JsClient.start(lb_url, ROOM, params={"ticket": cluster.ticket(ROOM, "js28")}, max_backoff_ms=500) as js28,
            JsClient.start(lb_url, ROOM, params={"ticket": cluster.ticket(ROOM, "js29")}, max_backoff_ms=500) as js29,
        ):
            js_clients = (js27, js28, js29)
            await asyncio.gather(
                *(e.synced.wait() for e in [*py, *one_shots, *observers]),
                *(c.wait_synced(within=20) for c in js_clients),
            )
            # One Node client per node (round-robin), so one of them is on the node we kill.
            assert [balancer.connections_to(n.address) for n in nodes] == [1, 1, 1]
            js = [JsEditor(27 + i, c, home="balancer") for i, c in enumerate(js_clients)]
            editors: list[Editor | JsEditor] = [*py, *js]

            until = asyncio.get_running_loop().time() + EDIT_SECONDS
            editing = asyncio.gather(
                edit_continuously(editors, until, interval=0.1),
                edit_continuously(one_shots, until, interval=0.02),
                edit_continuously(observers, until, interval=0.1),
            )
            # The kill falls in the middle of the editing: once the doomed node's clients have had edits
            # acknowledged (they go on editing after it, through other nodes).
            on_doomed = [e for e in py if e.home == doomed.name]
            assert on_doomed, _state(py)
            await wait_until(
                lambda: all(len(e.echoed) >= ECHOED_BEFORE_KILL for e in on_doomed),
                30,
                "the doomed node's clients have edits acknowledged",
                detail=lambda: _state(py),
            )
            # The node's host dies: the process is SIGKILLed, and what it had sent towards Redis that
            # Redis had not received yet (in the slow link) is lost with it.
            doomed.kill()
            slow_link.cut()
            assert await doomed.wait_exit() == -signal.SIGKILL
            slow_link.heal()  # for its restart at the end
            await editing

            # Room node-death: nobody died but the node.
            echoed = acknowledged(editors)
            made = {t for e in editors for t in e.made}

            async def converged() -> bool:
                if not all(e.synced.is_set() for e in py):
                    return False
                current = await texts(editors)
                return len(set(current)) == 1 and not check_document(current[0], made)

            await wait_until(converged, 30, "every client holds the same complete document", detail=lambda: _state(py))
            final = str(py[0].text)
            # The killed node's clients are elsewhere now.
            for editor in py:
                if editor.home == doomed.name:
                    assert editor.connections >= 2, editor
                    assert editor.url is not None and not editor.url.startswith(doomed.ws_url), editor
            assert balancer.connections_to(doomed.address) == 0
            for client in js_clients:
                assert await client.status() == ("connected", True)

            # Room node-death-one-shot: what the one-shot clients saw echoed survived them.
            assert all(e.dead.is_set() for e in one_shots)
            one_shot_echoed = set().union(*(e.echoed for e in one_shots))
            expected = one_shot_echoed | {t for e in observers for t in e.made}

            async def observers_converged() -> bool:
                current = {str(e.text) for e in observers}
                return len(current) == 1 and not check_document(current.pop(), expected)

            await wait_until(
                observers_converged,
                30,
                "the observers hold the same document, with every edit the one-shot clients saw echoed",
                detail=lambda: check_document(str(observers[0].text), expected),
            )
            one_shot_final = str(observers[0].text)
            assert not check_document(one_shot_final, expected)
            one_shot_made = {t for e in one_shots for t in e.made}
            kept = one_shot_made & set(tokens_in(one_shot_final))
            print(
                f"{ROOM}: {len(made)} edits, {len(echoed)} echoed to their authors before the end. "
                f"{ONE_SHOT_ROOM}: the one-shot clients made {len(one_shot_made)} edits and saw "
                f"{len(one_shot_echoed)} echoed; {len(kept)} survived them "
                f"({len(kept - one_shot_echoed)} of those unechoed)"
            )

    return final, one_shot_echoed


async def _check_after_restart(
    cluster: Cluster, nodes: list[Node], final: str, one_shot_echoed: set[str], observers: list[Editor]
) -> None:
    """Every node holds each document — the two survivors, and the killed one once restarted (it loads
    the rooms from PostgreSQL and the shared log) — and so does a reload from PostgreSQL."""
    await nodes[0].start()
    for node in nodes:
        assert await cluster.read_node(node, ROOM) == final, node.name

    async def stored() -> bool:
        return await cluster.read_store(ROOM) == final

    await wait_until(stored, 20, "a reload from PostgreSQL gives the final document")
    # In the one-shot room, the killed node may have saved to PostgreSQL edits that never reached
    # Redis (unechoed ones, still in the slow link when it died). Its restart loads them, and the
    # anti-entropy rounds spread them to the other nodes and their clients: then all agree again.
    views: dict[str, str] = {}

    async def one_shot_room_agrees() -> bool:
        views.clear()
        for node in nodes:
            views[node.name] = await cluster.read_node(node, ONE_SHOT_ROOM)
        views["postgres"] = await cluster.read_store(ONE_SHOT_ROOM)
        views.update({f"observer{e.number}": str(e.text) for e in observers})
        return len(set(views.values())) == 1

    await wait_until(
        one_shot_room_agrees,
        30,
        f"{ONE_SHOT_ROOM}: every node, PostgreSQL and the observers agree",
        interval=0.5,
        detail=lambda: _differences(views),
    )
    agreed = next(iter(views.values()))
    assert not check_document(agreed, one_shot_echoed | {t for e in observers for t in e.made})


def _differences(views: dict[str, str]) -> str:
    """Which tokens each view lacks compared with the union of all views."""
    sets = {name: set(tokens_in(text)) for name, text in views.items()}
    union = set().union(*sets.values())
    return "; ".join(f"{name} lacks {sorted(union - s)[:8]}" for name, s in sets.items() if union - s) or "same tokens"


def _state(editors: list[Editor]) -> str:
    lengths = sorted({len(e.text) for e in editors})
    unsynced = [e.number for e in editors if not e.synced.is_set()]
    return f"text lengths {lengths}, unsynced editors {unsynced}"
