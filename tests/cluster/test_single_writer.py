"""Issue #15 item 7, one writer per change: in a cluster every node applies every change, but only the
node that accepted a change stores it in PostgreSQL (before, every node stored every change it applied:
N writes per change on N nodes)."""

from __future__ import annotations

import asyncio

from tests.cluster.conftest import Cluster
from tests.cluster.editing import Editor, running, tokens_in
from tests.conftest import wait_until

ROOM = "single-writer"
EDITS_PER_NODE = 10


async def test_each_change_is_stored_once_across_two_nodes(cluster: Cluster) -> None:
    nodes = await cluster.start_nodes(2)
    editors = [Editor(i, [cluster.url(node, ROOM, f"editor{i}")], home=node.name) for i, node in enumerate(nodes)]
    async with running(editors):
        await asyncio.gather(*(e.synced.wait() for e in editors))  # both nodes hold the room before any edit
        made = set()
        for _ in range(EDITS_PER_NODE):
            for editor in editors:
                made.add(await editor.insert_token())
        await wait_until(lambda: all(made <= e.seen for e in editors), 10, "every edit reached both nodes' clients")

        async def stored() -> bool:
            return made <= set(tokens_in(await cluster.read_store(ROOM)))

        await wait_until(stored, 15, "PostgreSQL holds every edit")
        log = await cluster.read_store_log(ROOM)
        # One row per change, written by its author's node (no compaction runs below 500 rows).
        assert len(log) == len(made) == 2 * EDITS_PER_NODE
