"""Issue #5, first bullet: clients of one room spread over three nodes converge; awareness crosses
nodes and is cleared within 1 s when a client dies."""

from __future__ import annotations

import asyncio

from tests.cluster.conftest import Cluster
from tests.cluster.editing import Editor, JsEditor, acknowledged, check_document, edit_continuously, running, texts
from tests.conftest import wait_until
from tests.jsclient import JsClient

ROOM = "spread"


async def test_clients_spread_over_three_nodes_converge(cluster: Cluster) -> None:
    nodes = await cluster.start_nodes(3)
    py = [Editor(i, [cluster.url(nodes[i % 3], ROOM, f"py{i}")], home=nodes[i % 3].name) for i in range(6)]
    async with (
        running(py),
        JsClient.start(nodes[0].ws_url, ROOM, params={"ticket": cluster.ticket(ROOM, "js0")}) as js0,
        JsClient.start(nodes[1].ws_url, ROOM, params={"ticket": cluster.ticket(ROOM, "js1")}) as js1,
        JsClient.start(nodes[2].ws_url, ROOM, params={"ticket": cluster.ticket(ROOM, "js2")}) as js2,
    ):
        js = [JsEditor(10 + i, c, home=nodes[i].name) for i, c in enumerate((js0, js1, js2))]
        await asyncio.gather(*(e.synced.wait() for e in py), *(c.wait_synced(within=15) for c in (js0, js1, js2)))
        editors = [*py, *js]
        # Everyone types at once, on every node.
        await edit_continuously(editors, asyncio.get_running_loop().time() + 3.0, interval=0.05)
        made = {t for e in editors for t in e.made}

        async def converged() -> bool:
            current = await texts(editors)
            return len(set(current)) == 1 and not check_document(current[0], made)

        await wait_until(converged, 15, "every client holds every token once", detail=lambda: _summary(py))
        final = str(py[0].text)
        # Every edit was echoed to its author (Python clients) or seen through another node.
        assert acknowledged(editors) == made
    # Each node holds the same document, and so does PostgreSQL once the debounced saves ran.
    for node in nodes:
        assert await cluster.read_node(node, ROOM) == final, node.name

    async def stored() -> bool:
        return await cluster.read_store(ROOM) == final

    await wait_until(stored, 15, "PostgreSQL holds the final document")


async def test_awareness_crosses_nodes_and_is_cleared_within_a_second_when_a_client_dies(cluster: Cluster) -> None:
    a, b, c = await cluster.start_nodes(3)
    room = "presence"
    async with (
        JsClient.start(a.ws_url, room, params={"ticket": cluster.ticket(room, "alice")}) as alice,
        JsClient.start(b.ws_url, room, params={"ticket": cluster.ticket(room, "bob")}) as bob,
        JsClient.start(c.ws_url, room, params={"ticket": cluster.ticket(room, "carol")}) as carol,
    ):
        await asyncio.gather(*(x.wait_synced(within=15) for x in (alice, bob, carol)))
        alice_id, bob_id = await alice.client_id(), await bob.client_id()
        await alice.set_awareness({"user": "alice", "cursor": 3})
        await bob.set_awareness({"user": "bob"})

        async def sees(viewer: JsClient, who: int, state: object) -> bool:
            return (await viewer.awareness()).get(who) == state

        # Across nodes, both ways.
        await wait_until(lambda: sees(bob, alice_id, {"user": "alice", "cursor": 3}), 5, "bob (node2) sees alice")
        await wait_until(lambda: sees(carol, alice_id, {"user": "alice", "cursor": 3}), 5, "carol (node3) sees alice")
        await wait_until(lambda: sees(alice, bob_id, {"user": "bob"}), 5, "alice (node1) sees bob")
        # An update of the state crosses too.
        await alice.set_awareness({"user": "alice", "cursor": 9})
        await wait_until(lambda: sees(bob, alice_id, {"user": "alice", "cursor": 9}), 5, "bob sees alice's new cursor")

        # Alice's process dies: no goodbye message, only the TCP connection closing under node1.
        alice._process.proc.kill()
        removed = await bob.wait_event(
            lambda e: e.get("event") == "awareness" and alice_id in e.get("removed", []), within=5
        )
        assert removed
        await wait_until(lambda: _absent(carol, alice_id), 5.0, "carol (node3) no longer sees alice")


async def _absent(viewer: JsClient, who: int) -> bool:
    return who not in await viewer.awareness()


def _summary(editors: list[Editor]) -> str:
    return "; ".join(f"{e.number}@{e.home}: {len(e.text)} chars, {len(e.made)} made" for e in editors)
