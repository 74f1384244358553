"""The collab engine's metrics on `/metrics`: driven through real connections, read back from the endpoint.

The registry is the process's, shared with every app a test run starts: each test reads values before
and after what it does, and checks the difference.
"""

from __future__ import annotations

import asyncio

import httpx
from websockets.asyncio.client import connect

from crdt import CloseCode, PersistenceExtension, RoomManager
from dojo.collab_metrics import BUS_LAG, CollabMetrics
from tests.conftest import wait_until
from tests.crdt.fakes import Client, FakeChannel, sync_client
from tests.crdt.faulty_store import FaultyStore
from tests.dojo.conftest import CollabServer, scrape, value
from tests.dojo.yclient import PyClient, closed_with


async def test_a_connection_shows_in_the_engine_metrics(collab: CollabServer, http: httpx.AsyncClient) -> None:
    user = await collab.user(http)
    before = await scrape(http)
    async with PyClient.connect(f"{collab.ws_url}/metered", headers=user.auth) as client:
        await asyncio.wait_for(client.synced.wait(), 5)
        client.text.insert(0, "counted")
        await client.round_trip()
        during = await scrape(http)
        assert value(during, "pocdojo_collab_rooms_loaded") >= 1
        assert value(during, "pocdojo_collab_connections") >= 1
        # Its step2 and its edit came in; the echo of the edit went out.
        assert (
            value(during, "pocdojo_collab_updates_received_total")
            - value(before, "pocdojo_collab_updates_received_total")
            == 2
        )
        assert value(during, "pocdojo_collab_updates_sent_total") > value(before, "pocdojo_collab_updates_sent_total")
        for name in ("pocdojo_collab_received_bytes_total", "pocdojo_collab_sent_bytes_total"):
            assert value(during, name) > value(before, name)
        loads = "pocdojo_collab_store_seconds_count"
        assert value(during, loads, operation="load") == value(before, loads, operation="load") + 1

        async def saved() -> bool:
            now = await scrape(http)
            return value(now, loads, operation="append") > value(before, loads, operation="append")

        await wait_until(saved)  # the edit was stored (debounced), and the call timed
    async with connect(f"{collab.ws_url}/metered", additional_headers=user.auth) as raw:
        await raw.send(b"\x07")  # not a y-websocket message
        assert await closed_with(raw) == CloseCode.BAD_MESSAGE

    async def counted() -> bool:
        after = await scrape(http)
        closes = "pocdojo_collab_closes_total"
        return value(after, closes, code="4400") == value(before, closes, code="4400") + 1 and value(
            after, "pocdojo_collab_connections"
        ) == value(before, "pocdojo_collab_connections")

    await wait_until(counted)


async def test_store_retries_are_counted(collab: CollabServer, http: httpx.AsyncClient) -> None:
    metrics = CollabMetrics()
    store = FaultyStore()
    store.fail_next(2)  # a database away for a moment
    persistence = PersistenceExtension(store, debounce=0.01, max_delay=0.05, retry_initial=0.01, observer=metrics)
    before = await scrape(http)
    async with RoomManager([metrics, persistence]) as manager:
        client = Client(FakeChannel())
        room = await manager.join("flaky", client.channel)
        sync_client(room, client)
        room.receive(client.channel, client.append("kept"))

        async def saved() -> bool:
            return not persistence.is_dirty("flaky")

        await wait_until(saved)
    after = await scrape(http)
    retries, failures = "pocdojo_collab_store_retries_total", "pocdojo_collab_store_failures_total"
    assert value(after, retries, operation="append") - value(before, retries, operation="append") == 2
    assert value(after, failures, operation="append") - value(before, failures, operation="append") == 2


async def test_the_bus_lag_histogram_counts_each_observation_in_its_bucket(
    collab: CollabServer, http: httpx.AsyncClient
) -> None:
    """`LagHistogram` as a Prometheus histogram: cumulative buckets by upper bound (inclusive), a count
    and a sum (the cluster tests drive it through real nodes)."""
    before = await scrape(http)
    for seconds in (0.0, 0.001, 0.002, 0.3, 60.0):
        BUS_LAG.observe(seconds)
    after = await scrape(http)
    name = "pocdojo_collab_bus_lag_seconds"

    def added(sample: str, **labels: str) -> float:
        return value(after, f"{name}{sample}", **labels) - value(before, f"{name}{sample}", **labels)

    assert added("_bucket", le="0.001") == 2  # 0.0 and exactly 0.001
    assert added("_bucket", le="0.0025") == 3
    assert added("_bucket", le="0.25") == 3
    assert added("_bucket", le="0.5") == 4
    assert added("_bucket", le="10.0") == 4
    assert added("_bucket", le="+Inf") == added("_count") == 5
    assert abs(added("_sum") - 60.303) < 1e-9
