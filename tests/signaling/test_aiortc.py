"""The showcase: aiortc peers on different nodes of a real cluster negotiate through signaling and
exchange audio, video and data-channel messages; a third peer joins and connects to both."""

from __future__ import annotations

import contextlib
import uuid

from tests.conftest import wait_until
from tests.signaling.client import SignalClient
from tests.signaling.conftest import Cluster, cluster_signal_url, start_signal_nodes
from tests.signaling.rtc import RtcPeer


async def test_aiortc_peers_on_different_nodes_talk_and_a_third_joins_both(cluster: Cluster) -> None:
    node1, node2 = await start_signal_nodes(cluster, 2)
    room = f"dojo-call-{uuid.uuid4().hex[:8]}"
    peers: list[RtcPeer] = []
    async with contextlib.AsyncExitStack() as stack:
        alice_ws = await stack.enter_async_context(
            SignalClient.connect(cluster_signal_url(cluster, node1, room, "alice"))
        )
        bob_ws = await stack.enter_async_context(SignalClient.connect(cluster_signal_url(cluster, node2, room, "bob")))
        alice, bob = RtcPeer("alice", alice_ws), RtcPeer("bob", bob_ws)
        peers += [alice, bob]
        stack.push_async_callback(lambda: _close_all(peers))
        assert [p["peer_id"] for p in bob_ws.welcome["peers"]] == [alice.peer_id]

        # The newcomer calls the peers its welcome lists.
        await bob.call(alice.peer_id)
        await wait_until(
            lambda: alice.received_media_from(bob.peer_id) and bob.received_media_from(alice.peer_id),
            15,
            "audio and video frames both ways between alice (node1) and bob (node2)",
            detail=lambda: (dict(alice.frames), dict(bob.frames)),
        )
        await wait_until(
            lambda: (
                bob.messages[alice.peer_id] == ["hello back from alice"]
                and alice.messages[bob.peer_id] == ["hello from bob"]
            ),
            10,
            "a data-channel message each way",
            detail=lambda: (dict(alice.messages), dict(bob.messages)),
        )
        assert alice_ws.of_type("candidate") and bob_ws.of_type("candidate")  # ICE went through signaling

        carol_ws = await stack.enter_async_context(
            SignalClient.connect(cluster_signal_url(cluster, node1, room, "carol"))
        )
        carol = RtcPeer("carol", carol_ws)
        peers.append(carol)
        listed = {p["peer_id"]: p["user_id"] for p in carol_ws.welcome["peers"]}
        assert listed == {alice.peer_id: "alice", bob.peer_id: "bob"}
        for remote in listed:
            await carol.call(remote)
        await wait_until(
            lambda: (
                all(carol.received_media_from(p.peer_id) and p.received_media_from(carol.peer_id) for p in (alice, bob))
                and all(carol.messages[p.peer_id] == [f"hello back from {p.name}"] for p in (alice, bob))
            ),
            15,
            "carol exchanges media and data with alice and bob",
            detail=lambda: {p.name: (dict(p.frames), dict(p.messages)) for p in peers},
        )
        for ws in (alice_ws, bob_ws):
            assert [m["peer"]["user_id"] for m in ws.of_type("peer-joined")][-1] == "carol"
        assert not any(ws.of_type("error") for ws in (alice_ws, bob_ws, carol_ws))


async def _close_all(peers: list[RtcPeer]) -> None:
    for peer in peers:
        await peer.close()
