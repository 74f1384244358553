"""Signaling across nodes: real `pocdojo serve dojo` processes sharing a real redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from tests.conftest import wait_until
from tests.signaling.client import SignalClient
from tests.signaling.conftest import SIGNAL_ENV, Cluster, cluster_signal_url, start_signal_nodes

SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def room() -> str:
    return f"call-{uuid.uuid4().hex[:8]}"


async def test_peers_on_different_nodes_see_and_signal_each_other(cluster: Cluster) -> None:
    node1, node2 = await start_signal_nodes(cluster, 2)
    name = room()
    async with SignalClient.connect(cluster_signal_url(cluster, node1, name, "alice")) as alice:
        async with SignalClient.connect(cluster_signal_url(cluster, node2, name, "bob")) as bob:
            assert [p["user_id"] for p in bob.welcome["peers"]] == ["alice"]
            assert (await alice.next("peer-joined"))["peer"]["peer_id"] == bob.peer_id
            await alice.send({"type": "offer", "to": bob.peer_id, "sdp": SDP})
            assert await bob.next("offer") == {"type": "offer", "from": alice.peer_id, "sdp": SDP}
            await bob.send({"type": "answer", "to": alice.peer_id, "sdp": SDP})
            assert (await alice.next("answer"))["from"] == bob.peer_id
            await bob.send({"type": "state", "audio": True, "video": True})
            state = await alice.next("peer-state")
            assert (state["peer_id"], state["audio"], state["video"]) == (bob.peer_id, True, True)
            await bob.send({"type": "offer", "to": "p-elsewhere", "sdp": SDP})
            error = await bob.next("error")
            assert error["code"] == "unknown_peer" and alice.peer_id in error["detail"]
            async with SignalClient.connect(cluster_signal_url(cluster, node2, name, "carol")) as carol:
                listed = {p["user_id"]: p for p in carol.welcome["peers"]}
                assert set(listed) == {"alice", "bob"}
                assert listed["bob"]["audio"] is True
        left = await alice.next("peer-left")
        assert (left["user_id"], left["reason"]) in {("bob", "disconnected"), ("carol", "disconnected")}


async def test_mesh_cap_counts_peers_of_every_node(cluster: Cluster) -> None:
    node1, node2 = await start_signal_nodes(cluster, 2, POCDOJO_SIGNAL_MAX_PEERS="3")
    name = room()
    async with contextlib.AsyncExitStack() as stack:
        for node, user in ((node1, "a"), (node2, "b"), (node1, "c")):
            await stack.enter_async_context(SignalClient.connect(cluster_signal_url(cluster, node, name, user)))
        for node in (node1, node2):
            async with SignalClient.connect(cluster_signal_url(cluster, node, name, "d"), welcome=False) as late:
                assert (await late.next("error"))["code"] == "room_full"
                assert await late.closed() == (4409, "room is full (3 peers)")
    # Racing joins through both nodes at once: exactly the cap gets in.
    other = room()
    admitted: list[SignalClient] = []
    refused: list[int | None] = []
    async with contextlib.AsyncExitStack() as stack:

        async def attempt(index: int) -> None:
            node = (node1, node2)[index % 2]
            client = await stack.enter_async_context(
                SignalClient.connect(cluster_signal_url(cluster, node, other, f"u{index}"), welcome=False)
            )
            first = await client.next("welcome", "error")
            if first["type"] == "welcome":
                admitted.append(client)
            else:
                refused.append((await client.closed())[0])

        await asyncio.gather(*(attempt(i) for i in range(8)))
        assert len(admitted) == 3
        assert refused == [4409] * 5


async def test_a_killed_node_s_peers_leave_the_others_lists(cluster: Cluster) -> None:
    node1, node2 = await start_signal_nodes(cluster, 2)
    name = room()
    async with (
        SignalClient.connect(cluster_signal_url(cluster, node1, name, "alice")) as alice,
        SignalClient.connect(cluster_signal_url(cluster, node2, name, "bob")) as bob,
    ):
        await alice.next("peer-joined")
        node2.kill()
        left = await alice.next("peer-left", within=15)
        assert left == {"type": "peer-left", "peer_id": bob.peer_id, "user_id": "bob", "reason": "node-lost"}
        async with SignalClient.connect(cluster_signal_url(cluster, node1, name, "carol")) as carol:
            assert [p["user_id"] for p in carol.welcome["peers"]] == ["alice"]
            await carol.send({"type": "offer", "to": bob.peer_id, "sdp": SDP})
            assert (await carol.next("error"))["code"] == "unknown_peer"


async def test_a_flood_on_one_node_disturbs_nobody_else(cluster: Cluster) -> None:
    node1, node2 = await start_signal_nodes(cluster, 2)
    name = room()
    async with (
        SignalClient.connect(cluster_signal_url(cluster, node1, name, "alice")) as alice,
        SignalClient.connect(cluster_signal_url(cluster, node2, name, "bob")) as bob,
        SignalClient.connect(cluster_signal_url(cluster, node1, name, "mallory")) as mallory,
    ):
        await wait_until(lambda: len(bob.of_type("peer-joined")) == 1, 10, "bob hears of mallory")
        await asyncio.gather(*(mallory.send({"type": "offer", "to": bob.peer_id, "sdp": SDP}) for _ in range(600)))
        code, reason = await mallory.closed()
        assert code == 1013 and reason is not None and "rate limit" in reason
        await alice.send({"type": "offer", "to": bob.peer_id, "sdp": SDP, "id": 1})
        offer = await bob.next("offer", within=10)
        while offer["from"] != alice.peer_id:  # mallory's relayed offers (up to the burst) come first
            offer = await bob.next("offer", within=10)
        # At most the burst (200) plus what the bucket refilled (50/s) during the flood got through.
        assert len([m for m in bob.of_type("offer") if m["from"] == mallory.peer_id]) < 300
        await bob.send({"type": "answer", "to": alice.peer_id, "sdp": SDP})
        assert (await alice.next("answer"))["from"] == bob.peer_id
        await wait_until(
            lambda: [m["peer_id"] for m in alice.of_type("peer-left")] == [mallory.peer_id], 10, "mallory left"
        )


async def test_redis_outage_refuses_joins_clearly_and_the_registry_heals_after(cluster: Cluster) -> None:
    redis = cluster.redis.require_restartable()
    node1, node2 = await start_signal_nodes(cluster, 2)
    name = room()
    async with (
        SignalClient.connect(cluster_signal_url(cluster, node1, name, "alice")) as alice,
        SignalClient.connect(cluster_signal_url(cluster, node2, name, "bob")) as bob,
    ):
        await alice.next("peer-joined")
        redis.stop()
        async with SignalClient.connect(cluster_signal_url(cluster, node1, name, "carol"), welcome=False) as carol:
            error = await carol.next("error")
            assert error["code"] == "unavailable" and "Redis" in error["detail"]
            assert (await carol.closed())[0] == 1013

        async def relay_refused() -> bool:
            await alice.send({"type": "offer", "to": bob.peer_id, "sdp": SDP})
            return (await alice.next("error"))["code"] == "unavailable"

        await wait_until(relay_refused, 10, "a cross-node relay answers 'unavailable' while Redis is down")
        redis.start()

        await wait_until(
            lambda: _offer(alice, bob), 15, "relays across nodes work again once Redis is back", interval=0.5
        )
        # The restarted Redis lost the registry: the nodes registered their peers again.
        async with SignalClient.connect(cluster_signal_url(cluster, node2, name, "dave")) as dave:
            assert {p["user_id"] for p in dave.welcome["peers"]} == {"alice", "bob"}
        assert not [m for m in alice.of_type("peer-left") if m["peer_id"] == bob.peer_id]


async def _offer(sender: SignalClient, receiver: SignalClient) -> bool:
    before = len(receiver.of_type("offer"))
    await sender.send({"type": "offer", "to": receiver.peer_id, "sdp": SDP})
    try:
        await wait_until(lambda: len(receiver.of_type("offer")) > before, 1.0, "offer relayed")
    except AssertionError:
        return False
    return True


async def test_a_peer_that_left_while_its_node_was_cut_off_from_redis_does_not_linger(cluster: Cluster) -> None:
    link = await cluster.proxy(cluster.redis.address)
    node1 = (await start_signal_nodes(cluster, 1))[0]
    node2 = cluster.node("node2", redis_url=cluster.redis.url_via(link.address), settings=SIGNAL_ENV)
    await cluster.start(node2)
    name = room()
    async with (
        SignalClient.connect(cluster_signal_url(cluster, node1, name, "alice")) as alice,
        SignalClient.connect(cluster_signal_url(cluster, node2, name, "bob")) as bob,
    ):
        async with SignalClient.connect(cluster_signal_url(cluster, node2, name, "bob2")) as bob2:
            await wait_until(lambda: len(alice.of_type("peer-joined")) == 2, 10, "alice hears of bob and bob2")
            link.cut()  # node2 loses Redis: bob2's departure cannot reach the registry or node1
        await asyncio.sleep(0.3)  # paces the fault: node2 stays cut off while bob2 leaves
        link.heal()
        # node2 drops bob2's stale entry once reconnected; node1 reconciles with the registry.
        await wait_until(
            lambda: [m["peer_id"] for m in alice.of_type("peer-left")] == [bob2.peer_id], 15, "alice hears bob2 left"
        )
        assert alice.of_type("peer-left")[0]["reason"] == "gone"  # found by reconciliation
        async with SignalClient.connect(cluster_signal_url(cluster, node1, name, "carol")) as carol:
            assert {p["user_id"] for p in carol.welcome["peers"]} == {"alice", "bob"}
        await alice.send({"type": "offer", "to": bob.peer_id, "sdp": SDP})
        assert (await bob.next("offer"))["from"] == alice.peer_id
