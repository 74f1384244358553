"""Issue #5, Redis faults during continuous editing over three nodes:

- Redis restarts (its streams are lost, like an ElastiCache failover without persistence): the nodes
  keep running, reconnect, resubscribe and converge; no edit is lost.
- The network between one node and Redis is cut for a few seconds (a TCP proxy that resets every
  connection, or that silently stops moving bytes): that node's clients keep editing together, and
  within 5 s of the cut healing every node has converged.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.cluster.conftest import Cluster, Node
from tests.cluster.editing import Editor, check_document, edit_continuously, running, texts, tokens_in
from tests.conftest import wait_until
from tests.jsclient import JsClient


def editors_for(cluster: Cluster, nodes: list[Node], room: str, per_node: int = 3) -> list[Editor]:
    """``per_node`` editors on each node, each staying on its node (a lost connection is retried there)."""
    return [
        Editor(i, [cluster.url(nodes[i % len(nodes)], room, f"py{i}")], home=nodes[i % len(nodes)].name)
        for i in range(per_node * len(nodes))
    ]


def on(editors: list[Editor], node: Node) -> list[Editor]:
    return [e for e in editors if e.home == node.name]


async def check_everywhere(cluster: Cluster, nodes: list[Node], room: str, final: str) -> None:
    """Every node serves ``final`` for ``room``, and PostgreSQL catches up with it."""
    for node in nodes:
        assert await cluster.read_node(node, room) == final, node.name

    async def stored() -> bool:
        return await cluster.read_store(room) == final

    await wait_until(stored, 30, "PostgreSQL holds the final document")


@pytest.mark.slow
async def test_redis_restart_in_the_middle_of_editing(cluster: Cluster) -> None:
    redis = cluster.redis.require_restartable()
    room = "redis-restart"
    nodes = await cluster.start_nodes(3)
    pids = [n.proc.pid for n in nodes if n.proc is not None]
    editors = editors_for(cluster, nodes, room)
    loop = asyncio.get_running_loop()
    async with (
        running(editors),
        JsClient.start(nodes[0].ws_url, room, params={"ticket": cluster.ticket(room, "js-a")}) as js_a,
        JsClient.start(nodes[1].ws_url, room, params={"ticket": cluster.ticket(room, "js-b")}) as js_b,
    ):
        await asyncio.gather(*(e.synced.wait() for e in editors), js_a.wait_synced(within=15), js_b.wait_synced())
        editing = asyncio.create_task(edit_continuously(editors, loop.time() + 9.0, interval=0.08))
        await asyncio.sleep(2.5)  # paces the fault: edits flow through Redis for a while before it stops

        await asyncio.to_thread(redis.stop)
        stopped = loop.time()
        # The nodes notice (readiness fails) but their rooms keep working: clients of one node still
        # see each other's edits.
        await wait_until(lambda: _unready(nodes[0]), 10, "node1 reports Redis as unavailable in /readyz")
        a1, a2 = on(editors, nodes[0])[:2]
        during = await a1.insert_token()
        await wait_until(
            lambda: during in str(a2.text), 5, "an edit reaches a client of the same node during the outage"
        )
        await asyncio.sleep(max(0.0, stopped + 2.0 - loop.time()))  # paces the fault: the outage's length

        await asyncio.to_thread(redis.start)
        await editing
        made = {t for e in editors for t in e.made}

        async def converged() -> bool:
            current = await texts(editors)
            return len(set(current)) == 1 and not check_document(current[0], made)

        took = await wait_until(converged, 20, "every client holds every edit", detail=lambda: _lengths(editors))
        final = str(editors[0].text)
        print(f"{len(made)} edits; converged {took:.2f} s after the editing stopped")
        # Nobody restarted: same processes, same client connections, ready again.
        assert [n.proc.pid for n in nodes if n.proc is not None] == pids
        assert all(n.running for n in nodes)
        assert all(e.connections == 1 for e in editors), [e.errors for e in editors if e.connections != 1]
        for node in nodes:
            await wait_until(lambda node=node: _ready(node), 10, f"{node.name} ready again")
        # Resubscribed: presence crosses nodes again (awareness travels over pub/sub).
        js_a_id = await js_a.client_id()
        await js_a.set_awareness({"after": "restart"})
        await wait_until(lambda: _sees(js_b, js_a_id, {"after": "restart"}), 5, "awareness crosses nodes again")
        assert await js_a.get_text() == final
        assert await js_b.get_text() == final
    await check_everywhere(cluster, nodes, room, final)


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault",
    [
        "reset",
        "blackhole",
    ],
)
async def test_network_cut_between_a_node_and_redis(cluster: Cluster, fault: str) -> None:
    room = f"cut-{fault}"
    link = await cluster.proxy(cluster.redis.address)
    cut_off = cluster.node("node1", redis_url=cluster.redis.url_via(link.address))
    nodes = [cut_off, cluster.node("node2"), cluster.node("node3")]
    await cluster.start(*nodes)
    editors = editors_for(cluster, nodes, room)
    loop = asyncio.get_running_loop()
    async with running(editors):
        await asyncio.gather(*(e.synced.wait() for e in editors))
        await edit_continuously(editors, loop.time() + 2.0, interval=0.08)

        if fault == "reset":
            link.cut()
        else:
            link.blackhole()
        cut_at = loop.time()
        editing = asyncio.create_task(edit_continuously(editors, cut_at + 4.0, interval=0.08))
        # The cut-off node's clients keep editing together (after the Redis client's timeout when
        # the link is silent: the node holds echoes until it knows Redis is gone).
        a1, a2 = on(editors, cut_off)[:2]
        local = await a1.insert_token()
        await wait_until(lambda: local in str(a2.text), 5, "an edit reaches a client of the same node during the cut")
        await editing
        # ...and the cut is real: what either side typed from 0.5 s into the cut did not cross it.
        inside, outside = on(editors, cut_off), [e for e in editors if e.home != cut_off.name]
        typed_inside = set().union(*(e.made_since(cut_at + 0.5) for e in inside))
        typed_outside = set().union(*(e.made_since(cut_at + 0.5) for e in outside))
        assert typed_inside and typed_outside
        assert not typed_inside & set().union(*(tokens_in(str(e.text)) for e in outside))
        assert not typed_outside & set().union(*(tokens_in(str(e.text)) for e in inside))

        link.heal()
        healed = loop.time()
        made = {t for e in editors for t in e.made}

        async def converged() -> bool:
            current = await texts(editors)
            return len(set(current)) == 1 and not check_document(current[0], made)

        took = await wait_until(converged, 20, "every client holds every edit", detail=lambda: _lengths(editors))
        print(f"{fault}: {len(made)} edits; converged {took:.2f} s after the cut healed")
        assert loop.time() - healed <= 5.0, f"converged {took:.2f} s after the cut healed"
        final = str(editors[0].text)
        assert all(e.connections == 1 for e in editors), [e.errors for e in editors if e.connections != 1]
    await check_everywhere(cluster, nodes, room, final)


async def _ready(node: Node) -> bool:
    return await node.readyz() == 200


async def _unready(node: Node) -> bool:
    return await node.readyz() == 503


async def _sees(viewer: JsClient, who: int, state: object) -> bool:
    return (await viewer.awareness()).get(who) == state


def _lengths(editors: list[Editor]) -> str:
    return ", ".join(f"{e.number}@{e.home}: {len(e.text)}" for e in editors)
