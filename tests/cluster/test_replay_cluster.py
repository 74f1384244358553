"""Dojo replay across nodes (docs/replay.md): two authors on two `pocdojo serve dojo` processes sharing
Redis and PostgreSQL; one node dies and comes back. After the end, `state?at=` at every instant the test
recorded equals what both clients saw then, blame gives every character to the user who typed it, and
each update is recorded once (by the node that accepted it).

Instants: the nodes run on this machine, so the test's clock is theirs; an instant is read after both
clients converged (see `tests.dojo.test_replay.instant`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from tests.cluster.conftest import Cluster, Node
from tests.cluster.test_dojo_cluster import Identity, _call, _team, _ticket, _uid, identity
from tests.conftest import wait_until
from tests.dojo.conftest import User
from tests.dojo.test_replay import instant, rfc3339, utf16_slice
from tests.jsclient import JsClient

__all__ = ["identity"]  # the fixture, imported for this module's tests

HOST_CHARS = "ABCDEFGHIJ é"  # what the host types (the space too)
MEMBER_CHARS = "klmnopqrst_🎳"  # what the member types


def _script(i: int) -> tuple[str, str]:
    return HOST_CHARS[i % 10] * 2 + ("é " if i % 3 == 0 else ""), MEMBER_CHARS[i % 10] + ("🎳_" if i % 2 else "")


async def _state(node: Node, dojo: str, user: User, at: str | None = None) -> dict[str, str]:
    response = await _call(node, "GET", f"/v1/dojos/{dojo}/state", user, params={"at": at} if at else {})
    assert response.status_code == 200, response.text
    return {f["path"]: f["text"] for f in response.json()["files"]}


async def _converged(clients: list[JsClient], paths: tuple[str, ...]) -> dict[str, str]:
    texts: dict[str, str] = {}

    async def same() -> bool:
        views = [{p: await c.get_text(file=p) for p in paths} for c in clients]
        texts.clear()
        texts.update(views[0])
        return all(v == views[0] for v in views)

    await wait_until(same, within=10)
    return {p: t for p, t in texts.items() if t}


async def _recorded(node: Node, dojo: str, user: User, texts: dict[str, str]) -> None:
    """Wait until the history holds ``texts`` (what the clients converged on) as the current state."""

    async def check() -> bool:
        return await _state(node, dojo, user) == texts

    try:
        await wait_until(check, within=20)
    except AssertionError as exc:
        raise AssertionError(f"history on {node.name}: {await _state(node, dojo, user)} != {texts}") from exc


@pytest.mark.slow
async def test_state_at_and_blame_match_what_clients_saw_across_nodes_a_death_and_a_restart(
    cluster: Cluster, identity: Identity
) -> None:
    settings = {**identity.node_settings(), "POCDOJO_DOJO_HISTORY_CHECKPOINT_UPDATES": "4"}
    n1 = cluster.node("node1", settings=settings)
    n2 = cluster.node("node2", settings=settings)
    await cluster.start(n1, n2)
    host, member = await _team(identity)
    dojo = (await _call(n1, "POST", "/v1/dojos", host, json={"title": "replay"})).json()["id"]
    paths = ("main.py", "notes.md")
    seen: list[tuple[datetime, dict[str, str]]] = []

    async def edit_rounds(a: JsClient, b: JsClient, rounds: range) -> None:
        for i in rounds:
            host_text, member_text = _script(i)
            path = paths[i % 2]
            await a.insert(0, host_text, file=path)
            current = await b.get_text(file=path)  # the middle, never inside a surrogate pair:
            await b.insert(len(current[: len(current) // 2].encode("utf-16-le")) // 2, member_text, file=path)
            texts = await _converged([a, b], paths)
            seen.append((await instant(), texts))

    async with (
        JsClient.start(n1.ws_url, dojo, params={"ticket": await _ticket(n1, dojo, host)}) as a,
        JsClient.start(n2.ws_url, dojo, params={"ticket": await _ticket(n2, dojo, member)}) as b,
    ):
        await a.wait_synced()
        await b.wait_synced()
        # The host creates both files first (two users creating one file at once: one Y.Text wins the key).
        for path in paths:
            await a.insert(0, "A", file=path)
        texts = await _converged([a, b], paths)
        seen.append((await instant(), texts))
        await edit_rounds(a, b, range(6))
        # Everything both nodes accepted is in the history before node1 dies.
        await _recorded(n2, dojo, member, seen[-1][1])
        n1.kill()
        await n1.wait_exit()
        async with JsClient.start(n2.ws_url, dojo, params={"ticket": await _ticket(n2, dojo, host)}) as a2:
            await a2.wait_synced()
            await edit_rounds(a2, b, range(6, 10))
    await n1.start()
    async with (
        JsClient.start(n1.ws_url, dojo, params={"ticket": await _ticket(n1, dojo, host)}) as a,
        JsClient.start(n2.ws_url, dojo, params={"ticket": await _ticket(n2, dojo, member)}) as b,
    ):
        await a.wait_synced()
        await b.wait_synced()
        await edit_rounds(b, a, range(10, 13))  # the member on node2 first, the host on restarted node1
        final = seen[-1][1]
        await _recorded(n1, dojo, host, final)
        ended = await _call(n2, "POST", f"/v1/dojos/{dojo}/end", host)
        assert ended.status_code == 200, ended.text
        assert ended.json()["snapshot"]["files"] == final

    for at, texts in seen:
        for node in (n1, n2):
            assert await _state(node, dojo, member, rfc3339(at)) == texts, (at, node.name)

    blame = await _call(n1, "GET", f"/v1/dojos/{dojo}/blame", member)
    assert blame.status_code == 200, blame.text
    typed = {_uid(host): set(HOST_CHARS), _uid(member): set(MEMBER_CHARS)}
    swapped = {_uid(host): set(MEMBER_CHARS), _uid(member): set(HOST_CHARS)}
    for file in blame.json()["files"]:
        text, end = final[file["path"]], 0
        for item in file["ranges"]:
            assert item["start"] == end
            end = item["end"]
            piece = set(utf16_slice(text, item["start"], item["end"]))
            # Rounds 10-12 swapped who typed which characters: each character is one of its author's.
            assert piece <= typed[item["user_id"]] | swapped[item["user_id"]], (piece, item)
        assert end == file["length"] == len(text.encode("utf-16-le")) // 2
    # Exactly who typed what: frames at the end cut the text by author; every update recorded once.
    history = await _call(n2, "GET", f"/v1/dojos/{dojo}/history", host)
    assert history.status_code == 200, history.text
    edits = history.json()["edits"]
    inserted = sum(e["inserted"] for e in edits)
    typed_total = len(paths) + sum(len("".join(_script(i)).encode("utf-16-le")) // 2 for i in range(13))
    assert inserted == typed_total  # a duplicate record would count twice, a lost one not at all
    t_end = history.json()["duration_ms"]
    frames = await _call(n1, "POST", f"/v1/dojos/{dojo}/history/frames", member, json={"t_ms": [t_end]})
    line: dict[str, Any] = json.loads(frames.text)
    for file in line["files"]:
        assert "".join(r["text"] for r in file["runs"]) == final[file["path"]]
        host_part = "".join(r["text"] for r in file["runs"] if r["user_id"] == _uid(host))
        member_part = "".join(r["text"] for r in file["runs"] if r["user_id"] == _uid(member))
        assert sorted(host_part + member_part) == sorted(final[file["path"]])
