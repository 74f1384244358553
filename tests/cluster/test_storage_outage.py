"""Issue #5, PostgreSQL unavailable for a few seconds (every node reaches it through a TCP proxy that
is cut): editing continues on and across nodes, nothing is lost, and storage catches up."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.cluster.conftest import Cluster
from tests.cluster.editing import Editor, check_document, edit_continuously, running, texts
from tests.conftest import wait_until
from tests.dojo.yclient import PyClient

ROOM = "pg-outage"
SAVE_FAILED = re.compile(r"saving \d+ changes failed")
OUTAGE_SECONDS = 4.0


@pytest.mark.slow
async def test_postgres_unavailable_for_a_few_seconds(cluster: Cluster) -> None:
    pg_link = await cluster.proxy(cluster.database_address)
    via_link = cluster.database_url_via(pg_link.address)
    nodes = [cluster.node(f"node{i}", database_url=via_link) for i in (1, 2, 3)]
    await cluster.start(*nodes)
    editors = [Editor(i, [cluster.url(nodes[i % 3], ROOM, f"py{i}")], home=nodes[i % 3].name) for i in range(9)]
    loop = asyncio.get_running_loop()
    async with running(editors):
        await asyncio.gather(*(e.synced.wait() for e in editors))
        editing = asyncio.create_task(edit_continuously(editors, loop.time() + 5.0 + OUTAGE_SECONDS, interval=0.08))
        # Continuous typing is saved every POCDOJO_COLLAB_PERSIST_MAX_DELAY_SECONDS (3 s): one save
        # happens before the outage.

        async def saved() -> bool:
            return bool(await cluster.read_store(ROOM))

        await wait_until(saved, 10, "a save before the outage")

        pg_link.cut()
        cut_at = loop.time()
        # Editing goes on across nodes: an edit typed on node1 now reaches node2's and node3's clients.
        crossing = await editors[0].insert_token()
        await wait_until(
            lambda: all(crossing in str(e.text) for e in editors), 5, "an edit crosses nodes during the outage"
        )
        # A new client of the (loaded) room is served too.
        async with asyncio.timeout(10), PyClient.connect(cluster.url(nodes[1], ROOM, "late")) as late:
            await late.synced.wait()
            assert crossing in str(late.text)
        await asyncio.sleep(max(0.0, cut_at + OUTAGE_SECONDS - loop.time()))  # paces the fault: the outage's length
        pg_link.heal()
        await editing
        made = {t for e in editors for t in e.made}

        async def converged() -> bool:
            current = await texts(editors)
            return len(set(current)) == 1 and not check_document(current[0], made)

        await wait_until(converged, 20, "every client holds every edit")
        final = str(editors[0].text)
        assert all(e.connections == 1 for e in editors), [e.errors for e in editors if e.connections != 1]
    for node in nodes:
        assert await cluster.read_node(node, ROOM) == final, node.name

    # Storage catches up (failed saves are retried with backoff) and nothing is lost.
    async def stored() -> bool:
        return await cluster.read_store(ROOM) == final

    took = await wait_until(stored, 30, "PostgreSQL holds the final document")
    print(f"{len(made)} edits; PostgreSQL caught up {took:.2f} s after the clients converged")
    # The outage really hit storage: saves failed while it lasted.
    assert any(SAVE_FAILED.search(n.log_text()) for n in nodes), "no save failed during the outage"
