"""Dojos across nodes: moderation applied on every node within a second, an end that snapshots
edits made on all nodes, and a randori timer that survives the death and restart of its node.

The nodes are real `pocdojo serve dojo` processes sharing Redis and PostgreSQL; users sign in with a
real identity service (in this process) whose JWKS the nodes use to verify access tokens.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import jsonschema_rs
import jwt
import pytest
import redis.asyncio as aioredis
from pycrdt import Doc, Map, Text

from crdt import CloseCode, MessageKind
from dojo.docstore import room_key
from dojo.messages import SERVER_MESSAGES
from runtime.settings import Settings
from tests.cluster.conftest import Cluster, Node
from tests.conftest import serve_app, wait_until
from tests.dojo.conftest import User, sign_up
from tests.jsclient import JsClient

DOJO = jsonschema_rs.validator_for(SERVER_MESSAGES["dojo"])
CHAT = jsonschema_rs.validator_for(SERVER_MESSAGES["chat"])


@dataclass
class Identity:
    base: str
    http: httpx.AsyncClient

    def node_settings(self) -> dict[str, str]:
        return {
            "POCDOJO_AUTH_ISSUER": self.base,
            "POCDOJO_AUTH_JWKS_URL": f"{self.base}/.well-known/jwks.json",
            "POCDOJO_DOJO_RANDORI_MIN_SECONDS": "0.5",
        }


@pytest.fixture
async def identity(make_settings: Callable[..., Settings]) -> AsyncIterator[Identity]:
    from identity.app import create_app

    async with (
        serve_app(lambda base: create_app(make_settings(public_url=base))) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as http,
    ):
        yield Identity(base, http)


def _uid(user: User) -> str:
    sub: str = jwt.decode(user.access_token, options={"verify_signature": False})["sub"]
    return sub


async def _call(node: Node, method: str, path: str, user: User, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=node.base, timeout=30) as http:
        return await http.request(method, path, headers=user.auth, **kwargs)


async def _ticket(node: Node, dojo_id: str, user: User) -> str:
    response = await _call(node, "POST", f"/v1/dojos/{dojo_id}/tickets", user)
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def _team(identity: Identity) -> tuple[User, User]:
    host = await sign_up(identity.http)
    member = await sign_up(identity.http, tenant=host.tenant, email=f"member@{host.tenant}.example.com")
    return host, member


def _closed(event: dict[str, Any]) -> bool:
    return event.get("event") == "connectionClose"


@pytest.mark.slow
async def test_moderation_reaches_every_node_at_once(cluster: Cluster, identity: Identity) -> None:
    n1 = cluster.node("node1", settings=identity.node_settings())
    n2 = cluster.node("node2", settings=identity.node_settings())
    await cluster.start(n1, n2)
    host, member = await _team(identity)
    created = await _call(n1, "POST", "/v1/dojos", host, json={"title": "cross-node"})
    assert created.status_code == 201, created.text
    dojo = created.json()["id"]
    async with (
        JsClient.start(n1.ws_url, dojo, params={"ticket": await _ticket(n1, dojo, host)}) as a,
        JsClient.start(n2.ws_url, dojo, params={"ticket": await _ticket(n2, dojo, member)}) as b,
    ):
        await a.wait_synced()
        await b.wait_synced()
        await b.insert(0, "from node2", file="a.py")
        await a.wait_text("from node2", file="a.py")

        # Demoted on node1: node2 drops the member's next edit at once.
        role_path = f"/v1/dojos/{dojo}/participants/{_uid(member)}/role"
        demoted = await _call(n1, "PUT", role_path, host, json={"role": "observer"})
        assert demoted.status_code == 200, demoted.text
        await asyncio.sleep(0.2)  # paces: the demotion's event reaches node2 (a too-early edit would apply)
        await b.insert(0, "dropped ", file="b.py")
        await a.insert(0, "host", file="c.py")
        await b.wait_text("host", file="c.py")
        await asyncio.sleep(0.3)  # waits out a negative: the dropped edit must not reach node1's client
        assert await a.get_text(file="b.py") == ""

        # Kicked on node1: the member's socket on node2 closes.
        kicked = await _call(n1, "POST", f"/v1/dojos/{dojo}/participants/{_uid(member)}/kick", host)
        assert kicked.status_code == 200, kicked.text
        closed = await b.wait_event(_closed, within=5.0)
        assert closed["code"] == CloseCode.FORBIDDEN
    refused = await _call(n2, "POST", f"/v1/dojos/{dojo}/tickets", member)
    assert refused.status_code == 403


@pytest.mark.slow
async def test_end_snapshots_edits_made_on_every_node(cluster: Cluster, identity: Identity) -> None:
    n1 = cluster.node("node1", settings=identity.node_settings())
    n2 = cluster.node("node2", settings=identity.node_settings())
    await cluster.start(n1, n2)
    host, member = await _team(identity)
    dojo = (await _call(n1, "POST", "/v1/dojos", host, json={"title": "snapshot"})).json()["id"]
    async with (
        JsClient.start(n1.ws_url, dojo, params={"ticket": await _ticket(n1, dojo, host)}) as a,
        JsClient.start(n2.ws_url, dojo, params={"ticket": await _ticket(n2, dojo, member)}) as b,
    ):
        await a.wait_synced()
        await b.wait_synced()
        for i in range(20):
            await a.insert(0, f"a{i};", file="shared.py")
            await b.insert(0, f"b{i};", file="tests.py")
        await b.insert(0, "# both\n", file="shared.py")
        final: dict[str, str] = {}
        texts: list[str] = []  # what the two clients hold, as last read
        for path, tokens in (("shared.py", [f"a{i};" for i in range(20)] + ["# both"]), ("tests.py", ["b19;"])):

            async def converged(path: str = path, tokens: list[str] = tokens) -> bool:
                texts[:] = [await a.get_text(file=path), await b.get_text(file=path)]
                return texts[0] == texts[1] and all(token in texts[0] for token in tokens)

            await wait_until(converged, 10, f"{path} converged on both clients", detail=lambda: texts)
            final[path] = texts[0]
        # Ended through node2, the node that did not hold the host's edits first.
        ended = await _call(n2, "POST", f"/v1/dojos/{dojo}/end", host)
        assert ended.status_code == 200, ended.text
        assert ended.json()["snapshot"] == {"files": final}
        for client in (a, b):
            assert (await client.wait_event(_closed, within=2.0))["code"] == CloseCode.NOT_FOUND
    assert (await _call(n1, "POST", f"/v1/dojos/{dojo}/tickets", member)).status_code == 409


async def _log_files(redis: aioredis.Redis, stream: str) -> dict[str, str]:
    """Every file's text after merging every document update the shared log holds."""
    doc: Doc[Any] = Doc()
    for _, fields in await redis.xrange(stream, "-", "+"):
        if fields[b"k"] == MessageKind.UPDATE.value.encode():
            doc.apply_update(fields[b"p"])
    return {path: str(text) for path, text in doc.get("files", type=Map).items() if isinstance(text, Text)}


async def _fenced(redis: aioredis.Redis, stream: str) -> bool:
    entries = await redis.xrange(stream, "-", "+")
    return any(fields[b"k"] == MessageKind.FENCE.value.encode() for _, fields in entries)


@pytest.mark.slow
async def test_end_snapshot_is_exact_while_an_edit_is_still_on_its_way_between_nodes(
    cluster: Cluster, identity: Identity
) -> None:
    # node2 reaches Redis through a link the test stalls: an edit node2 accepted is still on its way to
    # the shared log when the dojo ends on node1. The end waits for it (no sleep can know how long),
    # and once it returns no node accepts an edit any more.
    link = await cluster.proxy(cluster.redis.address)
    n1 = cluster.node("node1", settings=identity.node_settings())
    n2 = cluster.node("node2", settings=identity.node_settings(), redis_url=cluster.redis.url_via(link.address))
    await cluster.start(n1, n2)
    host, member = await _team(identity)
    dojo = (await _call(n1, "POST", "/v1/dojos", host, json={"title": "exact end"})).json()["id"]
    stream = f"pocdojo:doc:{room_key(host.tenant_id, dojo)}"
    redis = aioredis.Redis.from_url(cluster.redis.url)
    try:
        async with (
            JsClient.start(n1.ws_url, dojo, params={"ticket": await _ticket(n1, dojo, host)}) as a,
            JsClient.start(n2.ws_url, dojo, params={"ticket": await _ticket(n2, dojo, member)}) as b,
            JsClient.start(n2.ws_url, dojo, params={"ticket": await _ticket(n2, dojo, host)}) as c,
        ):
            for client in (a, b, c):
                await client.wait_synced()
            await a.insert(0, "one;", file="a.py")
            await b.insert(0, "two;", file="b.py")
            await b.wait_text("one;", file="a.py")
            await a.wait_text("two;", file="b.py")

            link.blackhole()
            await b.insert(0, "late;", file="b.py")
            # node2 accepted it: c, reconnecting to node2, gets it in its sync (from node2's document; the
            # broadcast waits for the log).
            await c.disconnect()
            await c.connect()
            await c.wait_text("late;two;", file="b.py")
            ending = asyncio.create_task(_call(n1, "POST", f"/v1/dojos/{dojo}/end", host))
            await wait_until(lambda: ending.done() or _fenced(redis, stream), 10, "the end began")
            link.heal()
            ended = await ending
            assert ended.status_code == 200, ended.text
            snapshot = ended.json()["snapshot"]["files"]
            assert snapshot == {"a.py": "one;", "b.py": "late;two;"}

            # Nothing after the end: node2's copy is sealed, whatever its clients still send.
            await c.insert(0, "after;", file="a.py")
            for client in (a, b, c):  # (c's first close was its own reconnection)
                await client.wait_event(lambda e: _closed(e) and e.get("code") == CloseCode.NOT_FOUND, within=5.0)
        assert await _log_files(redis, stream) == snapshot
    finally:
        await redis.aclose()


@pytest.mark.slow
async def test_randori_timer_survives_a_node_restart(cluster: Cluster, identity: Identity) -> None:
    n1 = cluster.node("node1", settings=identity.node_settings())
    n2 = cluster.node("node2", settings=identity.node_settings())
    await cluster.start(n1, n2)
    host, member = await _team(identity)
    body = {"title": "randori", "settings": {"randori_seconds": 4}}
    dojo = (await _call(n1, "POST", "/v1/dojos", host, json=body)).json()["id"]
    async with JsClient.start(n1.ws_url, dojo, params={"ticket": await _ticket(n1, dojo, member)}) as b:
        await b.wait_synced()
    state = (await _call(n2, "GET", f"/v1/dojos/{dojo}", host)).json()["randori"]
    assert state["driver_id"] == _uid(host)
    due = datetime.fromisoformat(state["next_rotation_at"])

    # node1, the only node the dojo was open on, dies; it comes back and the clients return to it.
    n1.kill()
    await n1.wait_exit()
    await n1.start()
    async with (
        JsClient.start(n1.ws_url, dojo, params={"ticket": await _ticket(n1, dojo, host)}) as a,
        JsClient.start(n1.ws_url, dojo, params={"ticket": await _ticket(n1, dojo, member)}) as b,
    ):
        await a.wait_synced()
        await b.wait_synced()
        after = (await _call(n1, "GET", f"/v1/dojos/{dojo}", host)).json()["randori"]
        if after["round"] == 0:  # the restart took less than a turn: the same deadline still holds
            assert datetime.fromisoformat(after["next_rotation_at"]) == due

        async def member_drives() -> bool:
            after.update(await _randori(n2, dojo, host))
            return bool(after["driver_id"] == _uid(member))

        await wait_until(member_drives, 10, "the member drives", detail=lambda: after)
        assert after["round"] == 1
        # Now only the member's edits apply.
        await a.insert(0, "host while navigating", file="x.py")
        await b.insert(0, "member driving", file="y.py")
        await a.wait_text("member driving", file="y.py")
        await asyncio.sleep(0.3)  # waits out a negative: the navigator's edit must not arrive
        assert await b.get_text(file="x.py") == ""


def _signal_url(node: Node, dojo: str, ticket: str) -> str:
    return f"{node.base.replace('http://', 'ws://', 1)}/v1/signal/{dojo}?ticket={ticket}"


@pytest.mark.slow
async def test_chat_and_dojo_state_reach_signaling_sockets_on_every_node(cluster: Cluster, identity: Identity) -> None:
    from tests.signaling.client import SignalClient

    n1 = cluster.node("node1", settings=identity.node_settings())
    n2 = cluster.node("node2", settings=identity.node_settings())
    await cluster.start(n1, n2)
    host, member = await _team(identity)
    dojo = (await _call(n1, "POST", "/v1/dojos", host, json={"title": "chat"})).json()["id"]
    messages = f"/v1/dojos/{dojo}/messages"
    async with (
        SignalClient.connect(_signal_url(n1, dojo, await _ticket(n1, dojo, host))) as h,
        SignalClient.connect(_signal_url(n2, dojo, await _ticket(n2, dojo, member))) as m,
    ):
        sent = await _call(n2, "POST", messages, member, json={"text": "oi, pessoal"})
        assert sent.status_code == 201, sent.text
        live = await h.next("chat", within=2.0)
        CHAT.validate(live)
        assert live["message"] == sent.json()
        assert (await m.next("chat", within=2.0))["message"]["text"] == "oi, pessoal"  # the author's own copy
        sent = await _call(n1, "POST", messages, host, json={"text": "bem-vindo!"})
        assert (await m.next("chat", within=2.0))["message"]["text"] == "bem-vindo!"

        # A role change made on node1 reaches the member's signaling socket on node2.
        role_path = f"/v1/dojos/{dojo}/participants/{_uid(member)}/role"
        assert (await _call(n1, "PUT", role_path, host, json={"role": "observer"})).status_code == 200
        event = await m.next("dojo", within=2.0)
        while event["reason"] != "role":
            event = await m.next("dojo", within=2.0)
        DOJO.validate(event)
        roles = {p["user_id"]: p["role"] for p in event["dojo"]["participants"]}
        assert roles[_uid(member)] == "observer"
        randori = await _call(n1, "PATCH", f"/v1/dojos/{dojo}/settings", host, json={"randori_seconds": 60})
        assert randori.status_code == 200
        event = await m.next("dojo", within=2.0)
        while event["reason"] != "settings":
            event = await m.next("dojo", within=2.0)
        assert event["dojo"]["randori"]["driver_id"] == _uid(host)
        assert event["dojo"]["randori"]["next_rotation_at"] == randori.json()["randori"]["next_rotation_at"]
        last_seen = sent.json()["id"]

    # The member was away for two messages: history fills the gap after reconnecting.
    for text in ("perdeu isso", "e isso"):
        assert (await _call(n1, "POST", messages, host, json={"text": text})).status_code == 201
    async with SignalClient.connect(_signal_url(n2, dojo, await _ticket(n2, dojo, member))):
        missed = await _call(n2, "GET", f"{messages}?after={last_seen}", member)
        assert [item["text"] for item in missed.json()["items"]] == ["perdeu isso", "e isso"]


async def test_end_snapshots_without_a_shared_log_entry_the_engine_refuses(
    cluster: Cluster, identity: Identity
) -> None:
    # A log entry no engine can apply (garbage written to Redis, or an update every node refused) was
    # never part of any document: ending the dojo takes the snapshot without it, never a 500.
    n1 = cluster.node("node1", settings=identity.node_settings())
    await cluster.start(n1)
    host, _ = await _team(identity)
    dojo = (await _call(n1, "POST", "/v1/dojos", host, json={"title": "garbage in the log"})).json()["id"]
    async with JsClient.start(n1.ws_url, dojo, params={"ticket": await _ticket(n1, dojo, host)}) as a:
        await a.wait_synced()
        await a.insert(0, "kept", file="main.py")
        redis = aioredis.Redis.from_url(cluster.redis.url)
        try:
            stream = f"pocdojo:doc:{room_key(host.tenant_id, dojo)}"
            await wait_until(lambda: _stream_length(redis, stream), 10, "the edit reached the shared log")
            await redis.xadd(stream, {"n": "elsewhere", "k": "u", "p": b"\xff\xff\xff"})
        finally:
            await redis.aclose()
        ended = await _call(n1, "POST", f"/v1/dojos/{dojo}/end", host)
    assert ended.status_code == 200, ended.text
    assert ended.json()["snapshot"] == {"files": {"main.py": "kept"}}


async def _stream_length(redis: aioredis.Redis, stream: str) -> bool:
    return bool(await redis.xlen(stream))


@pytest.mark.slow
async def test_online_flag_sees_every_node_and_a_dead_node_goes_offline(cluster: Cluster, identity: Identity) -> None:
    n1 = cluster.node("node1", settings=identity.node_settings())
    n2 = cluster.node("node2", settings=identity.node_settings())
    await cluster.start(n1, n2)
    host, member = await _team(identity)
    created = await _call(n1, "POST", "/v1/dojos", host, json={"title": "presence"})
    assert created.status_code == 201, created.text
    dojo = created.json()["id"]
    ticket = await _ticket(n1, dojo, member)

    def online_on(node: Node, expected: dict[str, bool]) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            response = await _call(node, "GET", f"/v1/dojos/{dojo}/participants", host)
            return {p["user_id"]: p["online"] for p in response.json()["items"]} == expected

        return check

    nobody = {_uid(host): False, _uid(member): False}
    async with JsClient.start(n2.ws_url, dojo, params={"ticket": ticket}) as b:
        await b.wait_synced()
        # The member is connected to node2 only; node1 answers from Redis.
        await wait_until(online_on(n1, {**nobody, _uid(member): True}))
        await wait_until(online_on(n2, {**nobody, _uid(member): True}))
        n2.kill()  # no goodbye: node2's entry expires (3 × the 5 s refresh)
        await wait_until(online_on(n1, nobody), within=25.0)


def _rotations(*nodes: Node) -> int:
    """Randori rotations the nodes' logs report (each node logs the rotations it made)."""
    return sum(node.log_text().count('"message":"randori rotation"') for node in nodes)


async def _randori(node: Node, dojo: str, user: User) -> dict[str, Any]:
    response = await _call(node, "GET", f"/v1/dojos/{dojo}", user)
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()["randori"]
    return state


@pytest.mark.slow
async def test_randori_rotates_once_per_deadline_on_two_nodes_wrapping_and_skipping_observers(
    cluster: Cluster, identity: Identity
) -> None:
    n1 = cluster.node("node1", settings=identity.node_settings())
    n2 = cluster.node("node2", settings=identity.node_settings())
    await cluster.start(n1, n2)
    host, first = await _team(identity)
    watcher = await sign_up(identity.http, tenant=host.tenant, email=f"watcher@{host.tenant}.example.com")
    second = await sign_up(identity.http, tenant=host.tenant, email=f"second@{host.tenant}.example.com")
    dojo = (await _call(n1, "POST", "/v1/dojos", host, json={"title": "randori"})).json()["id"]
    tickets = {}
    for user in (first, watcher, second):  # the join order: host, first, watcher, second
        tickets[user.email] = await _ticket(n2, dojo, user)
    observer = await _call(
        n1, "PUT", f"/v1/dojos/{dojo}/participants/{_uid(watcher)}/role", host, json={"role": "observer"}
    )
    assert observer.status_code == 200, observer.text
    async with (
        JsClient.start(n1.ws_url, dojo, params={"ticket": await _ticket(n1, dojo, host)}) as a,
        JsClient.start(n2.ws_url, dojo, params={"ticket": tickets[first.email]}) as b,
    ):
        await a.wait_synced()
        await b.wait_synced()  # both nodes follow the dojo: both arm a timer for every deadline
        started = await _call(n1, "PATCH", f"/v1/dojos/{dojo}/settings", host, json={"randori_seconds": 2})
        assert started.status_code == 200, started.text
        drivers: dict[int, str] = {}

        async def through_round(last: int) -> bool:
            for node in (n1, n2):
                state = await _randori(node, dojo, host)
                drivers.setdefault(state["round"], state["driver_id"])
            return max(drivers) >= last

        await wait_until(lambda: through_round(4), 30, "four rotations", detail=lambda: drivers)
        stopped = await _call(n1, "PATCH", f"/v1/dojos/{dojo}/settings", host, json={"randori_seconds": None})
        assert stopped.status_code == 200, stopped.text
    # Turned off, the dojo no longer reports a round; PostgreSQL still counts them.
    conn = await asyncpg.connect(cluster.database.admin)
    try:
        final = await conn.fetchval("SELECT randori_round FROM dojo.sessions WHERE id = $1", uuid.UUID(dojo))
    finally:
        await conn.close()
    seen = max(drivers)
    assert final in (seen, seen + 1), (final, drivers)  # one more may have come before the PATCH
    # One rotation per deadline: the rounds were seen one by one, and the two nodes made one rotation per round.
    assert sorted(drivers) == list(range(seen + 1)), drivers
    assert _rotations(n1, n2) == final
    # Host, first, second, host...: the observer is skipped and the turn wraps around.
    order = [_uid(host), _uid(first), _uid(second)]
    assert drivers == {r: order[r % 3] for r in range(seen + 1)}


@pytest.mark.slow
async def test_a_randori_deadline_that_passed_while_no_node_was_up_rotates_once_at_start(
    cluster: Cluster, identity: Identity
) -> None:
    seconds = 3
    n1 = cluster.node("node1", settings=identity.node_settings())
    await cluster.start(n1)
    host, member = await _team(identity)
    body = {"title": "randori", "settings": {"randori_seconds": seconds}}
    dojo = (await _call(n1, "POST", "/v1/dojos", host, json=body)).json()["id"]
    async with JsClient.start(n1.ws_url, dojo, params={"ticket": await _ticket(n1, dojo, member)}) as b:
        await b.wait_synced()
    due = datetime.fromisoformat((await _randori(n1, dojo, host))["next_rotation_at"])
    await n1.stop()
    # No node is up while the deadline and two more turns go by (a wait for time to pass, not for a result).
    await wait_until(lambda: datetime.now(UTC) > due + timedelta(seconds=2 * seconds), 4 * seconds, "two turns missed")
    assert _rotations(n1) == 0

    restarted_at = datetime.now(UTC)
    await n1.start()
    async with JsClient.start(n1.ws_url, dojo, params={"ticket": await _ticket(n1, dojo, host)}) as a:
        await a.wait_synced()
        state: dict[str, Any] = {}

        async def rotated() -> bool:
            state.update(await _randori(n1, dojo, host))
            return bool(state["round"] >= 1)

        await wait_until(rotated, 10, "the missed deadline rotated", detail=lambda: state)
    # Once, not once per missed turn: the next deadline is a fresh turn from now, not in the past.
    assert state["round"] == 1, state
    assert state["driver_id"] == _uid(member)
    assert datetime.fromisoformat(state["next_rotation_at"]) > restarted_at
