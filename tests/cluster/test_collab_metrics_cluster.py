"""The cross-node half of the collab engine's metrics, read from each node's `/metrics`: the lag of the
shared log (another node's edits applied here) and the gaps a Redis restart leaves (rooms resynchronized)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.cluster.conftest import Cluster, Node
from tests.conftest import wait_until
from tests.dojo.conftest import Samples, scrape, value
from tests.dojo.yclient import PyClient

ROOM = "metered-across-nodes"


async def _scrape(node: Node) -> Samples:
    async with httpx.AsyncClient(base_url=node.base, timeout=10) as http:
        return await scrape(http)


@pytest.mark.slow
async def test_bus_lag_and_gaps_show_on_each_node(cluster: Cluster) -> None:
    redis = cluster.redis.require_restartable()
    n1, n2 = await cluster.start_nodes(2)
    async with (
        PyClient.connect(cluster.url(n1, ROOM, "writer")) as writer,
        PyClient.connect(cluster.url(n2, ROOM, "reader")) as reader,
    ):
        await asyncio.wait_for(asyncio.gather(writer.synced.wait(), reader.synced.wait()), 10)
        before = await _scrape(n2)
        lag = "pocdojo_collab_bus_lag_seconds_count"
        writer.text.insert(0, "across")
        await reader.wait_text("across")
        after = await _scrape(n2)
        assert value(after, lag) > value(before, lag)  # node2 applied node1's edit from the log
        assert value(after, "pocdojo_collab_bus_lag_seconds_sum") >= value(before, "pocdojo_collab_bus_lag_seconds_sum")

        gaps = "pocdojo_collab_bus_gaps_total"
        before = {node.name: value(await _scrape(node), gaps) for node in (n1, n2)}
        await asyncio.to_thread(redis.stop)
        await asyncio.to_thread(redis.start)

        async def resynced() -> bool:
            now = {node.name: value(await _scrape(node), gaps) for node in (n1, n2)}
            return all(now[name] >= before[name] + 1 for name in now)

        await wait_until(resynced, 20, "both nodes count the gap the restart left (their room)")
        writer.text.insert(len(writer.text), " again")
        await reader.wait_text("across again", within=15)
