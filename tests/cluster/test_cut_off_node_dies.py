"""A node cut off from Redis keeps serving its clients (availability first) and saves their edits to
PostgreSQL — then dies before the cut heals. Those edits are in PostgreSQL but in no live node's
memory: the live nodes, their clients and a reload from PostgreSQL must still end up agreeing (the
issue's "every client, every node and a reload from PostgreSQL hold the same document")."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.cluster.conftest import Cluster, Node
from tests.cluster.editing import Editor, running, tokens_in
from tests.conftest import wait_until

ROOM = "cut-off-then-dead"


@pytest.mark.slow
async def test_edits_saved_by_a_node_that_died_cut_off_from_redis_reach_the_live_nodes(cluster: Cluster) -> None:
    link = await cluster.proxy(cluster.redis.address)
    # Anti-entropy every 2 s (default 10 s) and store reconciliation every 2 s (default 15 s), so that
    # the repair shows within the test's patience.
    fast = {"POCDOJO_COLLAB_ANTI_ENTROPY_SECONDS": "2", "POCDOJO_COLLAB_STORE_RECONCILE_SECONDS": "2"}
    cut_off = cluster.node("node1", redis_url=cluster.redis.url_via(link.address), settings=fast)
    nodes = [cut_off, cluster.node("node2", settings=fast), cluster.node("node3", settings=fast)]
    await cluster.start(*nodes)
    writer = Editor(1, [cluster.url(cut_off, ROOM, "writer")], reconnect=False, home=cut_off.name)
    # A client on each other node, so that both hold the room (reading a node that does not would make
    # it load the room from PostgreSQL, and anti-entropy would then spread what it loaded).
    observers = [Editor(2 + i, [cluster.url(n, ROOM, f"observer{i}")], home=n.name) for i, n in enumerate(nodes[1:])]
    async with running([writer, *observers]):
        await asyncio.gather(writer.synced.wait(), *(o.synced.wait() for o in observers))
        before = await writer.insert_token()
        await wait_until(lambda: all(before in str(o.text) for o in observers), 5, "an edit crosses nodes")

        link.cut()
        await wait_until(lambda: _status(cut_off, 503), 10, "node1 reports Redis as unavailable")
        during = {await writer.insert_token() for _ in range(5)}
        # Availability first: node1 echoes them at once and saves them (debounced) to PostgreSQL.
        await wait_until(lambda: during <= writer.seen, 5, "the writer sees its edits echoed during the cut")

        async def saved() -> bool:
            return during <= set(tokens_in(await cluster.read_store(ROOM)))

        await wait_until(saved, 15, "node1 saved the edits made during the cut to PostgreSQL")
        cut_off.kill()
        assert await cut_off.wait_exit() == -signal.SIGKILL

        views: dict[str, str] = {}

        async def agree() -> bool:
            views.update({f"observer{o.number}": str(o.text) for o in observers})
            for node in nodes[1:]:
                views[node.name] = await cluster.read_node(node, ROOM)
            views["postgres"] = await cluster.read_store(ROOM)
            return len(set(views.values())) == 1

        await wait_until(
            agree,
            15,
            "the live nodes, their clients and PostgreSQL agree",
            interval=0.5,
            detail=lambda: {name: sorted(during - set(tokens_in(text))) for name, text in views.items()},
        )
        assert during <= set(tokens_in(views["postgres"]))


async def _status(node: Node, code: int) -> bool:
    return await node.readyz() == code
