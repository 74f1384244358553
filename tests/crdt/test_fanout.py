"""The cross-node fan-out extension over an in-memory bus: two "nodes" (room managers) converge,
echoes wait for the log, a lost log degrades to local delivery and resynchronizes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from crdt import (
    BusListener,
    BusMessage,
    FanoutExtension,
    MemoryStore,
    MessageKind,
    PersistenceExtension,
    RemoteOrigin,
    RoomExtension,
    RoomManager,
    RoomSealed,
)
from crdt.updates import merge_updates
from tests.conftest import wait_until
from tests.crdt.fakes import (
    Client,
    FakeChannel,
    awareness_entries,
    awareness_frame,
    document_text,
    sync_client,
)


@dataclass
class MemoryLog:
    """The shared log: entries per room, a list of buses following it."""

    entries: dict[str, list[BusMessage]] = field(default_factory=dict)
    buses: list[MemoryBus] = field(default_factory=list)


class MemoryBus:
    """`crdt.Bus` in memory, with manual acknowledgements and an on/off switch."""

    def __init__(self, log: MemoryLog, node: str) -> None:
        self.log = log
        self._node = node
        self.listener: BusListener | None = None
        self.followed: set[str] = set()
        self.up = True
        self.auto_ack = True
        self.pending: list[tuple[str, BusMessage, object]] = []
        log.buses.append(self)

    @property
    def node_id(self) -> str:
        return self._node

    @property
    def connected(self) -> bool:
        return self.up

    def set_listener(self, listener: BusListener) -> None:
        self.listener = listener

    async def follow(self, room: str) -> list[BusMessage]:
        self.followed.add(room)
        return list(self.log.entries.get(room, []))

    async def unfollow(self, room: str) -> None:
        self.followed.discard(room)

    async def peers(self, room: str) -> set[str]:
        return {bus.node_id for bus in self.log.buses if bus is not self and bus.up and room in bus.followed}

    def append(self, room: str, message: BusMessage, done=None) -> None:  # type: ignore[no-untyped-def]
        if not self.up:
            if done is not None:
                done(False)
            return
        self.pending.append((room, message, done))
        if self.auto_ack:
            self.ack_all()

    def ack_all(self) -> None:
        pending, self.pending = self.pending, []
        for room, message, done in pending:
            self.log.entries.setdefault(room, []).append(message)
            if done is not None:
                done(True)  # type: ignore[operator]
            for bus in self.log.buses:
                if bus.up and room in bus.followed and bus.listener is not None:
                    if message.kind is MessageKind.UPDATE and bus is not self:
                        # As the Redis bus hands over the usual entry: one change, no list around it.
                        bus.listener.on_update(room, message.node, message.payload, message.sent_at)
                    else:
                        bus.listener.on_messages(room, [message])

    def broadcast(self, room: str, message: BusMessage) -> None:
        for bus in self.log.buses:
            if bus is not self and bus.up and room in bus.followed and bus.listener is not None:
                bus.listener.on_messages(room, [message])

    def reconnect(self, rooms: Sequence[str] | None = None) -> None:
        self.up = True
        assert self.listener is not None
        self.listener.on_gap(rooms)


async def _node(
    log: MemoryLog,
    name: str,
    *,
    fence_timeout: float = 10.0,
    persistence: PersistenceExtension | None = None,
    max_held: int = 256,
    idle_unload_seconds: float = 60,
    owner_check_seconds: float = 0.05,
) -> tuple[RoomManager, MemoryBus, FanoutExtension]:
    """A node on the shared log; with ``persistence`` (``store_remote=False``), the single-writer setup
    of a cluster node."""
    bus = MemoryBus(log, name)
    fanout = FanoutExtension(
        bus,
        anti_entropy_seconds=0.2,
        fence_timeout=fence_timeout,
        keeper=persistence,
        owner_check_seconds=owner_check_seconds,
        max_held=max_held,
    )
    extensions: list[RoomExtension] = [fanout] if persistence is None else [fanout, persistence]
    manager = RoomManager(extensions, idle_unload_seconds=idle_unload_seconds)
    await manager.__aenter__()
    return manager, bus, fanout


async def test_two_nodes_converge_and_echo_waits_for_the_log() -> None:
    log = MemoryLog()
    (m1, bus1, _), (m2, _, _) = await _node(log, "n1"), await _node(log, "n2")
    try:
        a, b = Client(), Client()
        room1 = await m1.join("doc", a.channel)
        room2 = await m2.join("doc", b.channel)
        sync_client(room1, a)
        sync_client(room2, b)
        bus1.auto_ack = False
        room1.receive(a.channel, a.append("hello"))
        # Not yet in the log: neither the author's echo nor the other node has it.
        assert a.channel.take() == []
        assert b.catch_up() == [] and b.content == ""
        bus1.ack_all()
        assert [m.update for m in a.catch_up() if hasattr(m, "update")]  # the echo, after the log took it
        b.catch_up()
        assert b.content == "hello"
        room2.receive(b.channel, b.append(" world"))
        a.catch_up()
        assert a.content == "hello world"
        # Remote changes are not published again: the log holds each change once.
        assert [m.node for m in log.entries["doc"] if m.kind is MessageKind.UPDATE] == ["n1", "n2"]
    finally:
        await m1.close()
        await m2.close()


async def test_lost_log_degrades_to_local_delivery_then_resyncs() -> None:
    log = MemoryLog()
    (m1, bus1, _), (m2, _, _) = await _node(log, "n1"), await _node(log, "n2")
    try:
        a, b = Client(), Client()
        room1 = await m1.join("doc", a.channel)
        room2 = await m2.join("doc", b.channel)
        sync_client(room1, a)
        sync_client(room2, b)
        bus1.up = False
        room1.receive(a.channel, a.append("offline-from-redis "))
        a.catch_up()  # delivered locally at once (availability first)
        assert b.content == ""
        room2.receive(b.channel, b.append("meanwhile"))
        bus1.reconnect()
        # The gap is repaired: node 1 publishes its state and asks for what it lacks.
        await wait_until(lambda: (b.catch_up() or True) and "offline-from-redis" in b.content, within=3)
        await wait_until(lambda: (a.catch_up() or True) and "meanwhile" in a.content, within=3)
        assert a.content == b.content
    finally:
        await m1.close()
        await m2.close()


async def test_a_node_loading_a_room_replays_the_log_it_did_not_store() -> None:
    log = MemoryLog()
    m1, _, _ = await _node(log, "n1")
    try:
        a = Client()
        room1 = await m1.join("doc", a.channel)
        sync_client(room1, a)
        room1.receive(a.channel, a.append("only in the log"))
    finally:
        await m1.close()
    m2, _, _ = await _node(log, "n2")
    try:
        b = Client()
        room2 = await m2.join("doc", b.channel)
        sync_client(room2, b)
        assert b.content == "only in the log"
    finally:
        await m2.close()


async def test_sync_requests_are_answered_with_what_is_missing() -> None:
    log = MemoryLog()
    (m1, _, _), (m2, bus2, _) = await _node(log, "n1"), await _node(log, "n2")
    try:
        a = Client()
        room1 = await m1.join("doc", a.channel)
        sync_client(room1, a)
        room1.receive(a.channel, a.append("x"))
        room2 = await m2.join("doc", FakeChannel())
        # Simulate node 2 having missed everything: a fresh request with an empty state vector.
        before = len(log.entries["doc"])
        bus2.append("doc", BusMessage("n3", MessageKind.SYNC_REQUEST, b"\x00"))
        answers = [m for m in log.entries["doc"][before:] if m.kind is MessageKind.UPDATE]
        assert {m.node for m in answers} >= {"n1"}
        # A request from a peer that has everything gets no answer.
        before = len(log.entries["doc"])
        bus2.append("doc", BusMessage("n3", MessageKind.SYNC_REQUEST, room1.state_vector()))
        assert [m for m in log.entries["doc"][before:] if m.kind is MessageKind.UPDATE] == []
        assert room2.state_vector() == room1.state_vector()
    finally:
        await m1.close()
        await m2.close()


async def test_awareness_from_another_node_is_no_way_around_ownership() -> None:
    log = MemoryLog()
    nodes = [await _node(log, f"n{i}") for i in (1, 2, 3)]
    managers = [m for m, _, _ in nodes]
    try:
        victim, attacker, watcher = FakeChannel(), FakeChannel(), FakeChannel()
        rooms = [await m.join("doc", ch) for m, ch in zip(managers, (victim, attacker, watcher), strict=True)]
        rooms[0].receive(victim, awareness_frame((7, 3, '{"me":"victim"}')))
        assert all(r.awareness_states == {7: '{"me":"victim"}'} for r in rooms)
        # An attacker on node 2 overwrites, removes, or pushes the clock: its node drops it all.
        rooms[1].receive(attacker, awareness_frame((7, 50, '{"me":"forged"}')))
        rooms[1].receive(attacker, awareness_frame((7, 51, "null")))
        assert attacker.closed is None
        assert all(r.awareness_states == {7: '{"me":"victim"}'} for r in rooms)
        assert rooms[1].awareness_foreign_dropped == 2
        # Nodes trust each other's checks, not each other's claims: a relayed entry for an ID that
        # a local connection (or a node that introduced it) owns is dropped too.
        rooms[0].apply_awareness(awareness_entries(awareness_frame((7, 60, '{"me":"relayed"}'))), RemoteOrigin("n9"))
        rooms[2].apply_awareness(awareness_entries(awareness_frame((7, 60, '{"me":"relayed"}'))), RemoteOrigin("n9"))
        assert all(r.awareness_states == {7: '{"me":"victim"}'} for r in rooms)
        # Not refused wrongly: the victim moves to node 3 (node 1 announces it left), and its
        # renewal there is accepted by every node.
        managers[0].leave(rooms[0], victim)
        assert all(r.awareness_states == {} for r in rooms)
        rooms[2].receive(watcher, awareness_frame((7, 4, '{"me":"victim, moved"}')))
        assert all(r.awareness_states == {7: '{"me":"victim, moved"}'} for r in rooms)
        assert watcher.closed is None
    finally:
        for manager in managers:
            await manager.close()


async def test_a_seal_holds_every_edit_any_node_accepted_before_it_and_none_after() -> None:
    log = MemoryLog()
    (m1, _, _), (m2, bus2, _) = await _node(log, "n1"), await _node(log, "n2")
    try:
        a, b = Client(), Client()
        room1 = await m1.join("doc", a.channel)
        room2 = await m2.join("doc", b.channel)
        sync_client(room1, a)
        sync_client(room2, b)
        room1.receive(a.channel, a.append("a1 "))
        # Node 2 accepted an edit that is still on its way to the log when node 1 seals.
        bus2.auto_ack = False
        room2.receive(b.channel, b.append("b1 "))
        sealing = asyncio.create_task(m1.seal("doc"))
        await wait_until(lambda: room2.sealed)  # node 2 read the fence: its copy is final
        assert room1.sealed and not sealing.done()  # node 1 waits for node 2's answer
        before = room2.state_update()
        room2.receive(b.channel, b.append("b-after "))  # dropped: the room is sealed
        assert room2.state_update() == before and b.channel.closed is None
        bus2.auto_ack = True
        bus2.ack_all()  # node 2's edit, then its answer, reach the log in that order
        final = document_text(await asyncio.wait_for(sealing, 5))
        assert sorted(final.split()) == ["a1", "b1"]  # concurrent inserts: either order
        assert document_text(room2.state_update()) == final
        b.append("server")
        with pytest.raises(RoomSealed):
            await m2.apply_server_update("doc", b.local_updates[-1])
        assert document_text(await m1.seal("doc")) == final  # idempotent
    finally:
        await m1.close()
        await m2.close()


async def test_a_settled_read_waits_for_the_other_nodes_without_sealing() -> None:
    log = MemoryLog()
    (m1, _, _), (m2, bus2, _) = await _node(log, "n1"), await _node(log, "n2")
    try:
        b = Client()
        await m1.join("doc", FakeChannel())
        room2 = await m2.join("doc", b.channel)
        sync_client(room2, b)
        bus2.auto_ack = False
        room2.receive(b.channel, b.append("on its way"))
        reading = asyncio.create_task(m1.read_settled_state("doc"))
        await wait_until(lambda: any(m.kind is MessageKind.FENCE_ACK for _, m, _ in bus2.pending))
        assert not reading.done()
        bus2.ack_all()
        assert document_text(await asyncio.wait_for(reading, 5)) == "on its way"
        assert not room2.sealed
        room2.receive(b.channel, b.append("!"))
        bus2.ack_all()
        assert document_text(await m1.read_state("doc")) == "on its way!"
    finally:
        await m1.close()
        await m2.close()


async def test_a_node_that_never_answers_delays_a_seal_only_until_the_timeout(caplog: pytest.LogCaptureFixture) -> None:
    log = MemoryLog()
    (m1, _, _), (m2, bus2, _) = await _node(log, "n1", fence_timeout=0.2), await _node(log, "n2")
    try:
        await m1.join("doc", FakeChannel())
        await m2.join("doc", FakeChannel())
        bus2.auto_ack = False  # node 2's answer never reaches the log
        assert document_text(await m1.seal("doc")) == ""
        assert "read without node(s) n2" in caplog.text
    finally:
        await m1.close()
        await m2.close()


async def test_a_node_loading_a_sealed_room_keeps_it_sealed() -> None:
    log = MemoryLog()
    m1, _, _ = await _node(log, "n1")
    try:
        a = Client()
        room1 = await m1.join("doc", a.channel)
        sync_client(room1, a)
        room1.receive(a.channel, a.append("final"))
        await m1.seal("doc")
    finally:
        await m1.close()
    m2, _, _ = await _node(log, "n2")
    try:
        b = Client()
        room2 = await m2.join("doc", b.channel)
        sync_client(room2, b)
        assert room2.sealed and b.content == "final"
        room2.receive(b.channel, b.append(" more"))
        assert document_text(room2.state_update()) == "final"
    finally:
        await m2.close()


def _writer(store: MemoryStore, *, debounce: float = 0.0) -> PersistenceExtension:
    return PersistenceExtension(store, debounce=debounce, max_delay=max(debounce, 0.0), store_remote=False)


def _die(bus: MemoryBus) -> None:
    """The node's process is gone: it neither reads the log nor counts as a live peer (its manager is
    not closed: a dead node saves nothing more)."""
    bus.up = False
    bus.followed.clear()


async def test_each_change_is_stored_once_by_the_node_that_accepted_it() -> None:
    log, store = MemoryLog(), MemoryStore()
    p1, p2 = _writer(store), _writer(store)
    (m1, _, _), (m2, _, _) = await _node(log, "n1", persistence=p1), await _node(log, "n2", persistence=p2)
    try:
        a, b = Client(), Client()
        room1 = await m1.join("doc", a.channel)
        room2 = await m2.join("doc", b.channel)
        sync_client(room1, a)
        sync_client(room2, b)
        room1.receive(a.channel, a.append("one "))
        room2.receive(b.channel, b.append("two "))
        room1.receive(a.channel, a.append("three"))
        assert document_text(room1.state_update()) == document_text(room2.state_update())
        for p in (p1, p2):
            await p.flush("doc")
        # Three changes, three stored rows: each stored by its author only (not once per node).
        assert len(store.log("doc")) == 3
        assert document_text(room1.state_update()) == document_text(merge_updates(store.log("doc")))
    finally:
        await m1.close()
        await m2.close()


async def test_changes_of_a_node_that_died_before_storing_them_are_stored_by_a_survivor() -> None:
    log, store = MemoryLog(), MemoryStore()
    (m1, bus1, _) = await _node(log, "n1", persistence=_writer(store, debounce=3600))  # never saves in time
    (m2, _, _) = await _node(log, "n2", persistence=_writer(store))
    try:
        a, b = Client(), Client()
        room1 = await m1.join("doc", a.channel)
        room2 = await m2.join("doc", b.channel)
        sync_client(room1, a)
        sync_client(room2, b)
        room1.receive(a.channel, a.append("echoed, then the node died"))
        assert [m for m in a.catch_up() if hasattr(m, "update")]  # its author saw it echoed
        await asyncio.sleep(0.2)  # several owner checks while n1 lives: nothing to store for it
        assert store.log("doc") == []
        _die(bus1)
        await wait_until(lambda: document_text(merge_updates(store.log("doc"))) == "echoed, then the node died")
        assert document_text(room2.state_update()) == "echoed, then the node died"
    finally:
        await m2.close()
        await m1.close()


async def test_a_loading_node_stores_what_the_log_holds_beyond_its_store() -> None:
    log, store = MemoryLog(), MemoryStore()
    m1, bus1, _ = await _node(log, "n1", persistence=_writer(store, debounce=3600))
    try:
        a = Client()
        room1 = await m1.join("doc", a.channel)
        sync_client(room1, a)
        room1.receive(a.channel, a.append("only in the log"))
        _die(bus1)
        p2 = _writer(store)
        m2, _, _ = await _node(log, "n2", persistence=p2)
        try:
            await m2.join("doc", FakeChannel())
            await p2.flush("doc")
            assert document_text(merge_updates(store.log("doc"))) == "only in the log"
        finally:
            await m2.close()
    finally:
        await m1.close()


async def test_a_room_stops_reading_its_connections_while_its_changes_wait_for_the_log() -> None:
    log = MemoryLog()
    (m1, bus1, _), (m2, _, _) = await _node(log, "n1", max_held=4), await _node(log, "n2")
    try:
        a, b = Client(), Client()
        room1 = await m1.join("doc", a.channel)
        room2 = await m2.join("doc", b.channel)
        sync_client(room1, a)
        sync_client(room2, b)
        bus1.auto_ack = False  # the log is slow: nothing is acknowledged
        for i in range(4):
            room1.receive(a.channel, a.append(f"{i} "))
        assert a.channel.reading  # 4 held: at the bound
        room1.receive(a.channel, a.append("4 "))
        assert not a.channel.reading and room1.reading_paused  # past it: the room stops reading
        late = FakeChannel()
        await m1.join("doc", late)
        assert not late.reading  # a connection joining a paused room is paused too
        bus1.ack_all()
        assert a.channel.reading and late.reading and not room1.reading_paused
        # Nothing was lost: every held change reached its author and the other node.
        a.catch_up()
        b.catch_up()
        assert a.content == b.content == "0 1 2 3 4 "
    finally:
        await m1.close()
        await m2.close()


async def test_a_room_that_applied_other_nodes_changes_stores_its_whole_state_once_when_it_unloads() -> None:
    log, store = MemoryLog(), MemoryStore()
    p1, p2 = _writer(store, debounce=3600), _writer(store)
    (m1, bus1, _) = await _node(log, "n1", persistence=p1)
    # n2 unloads the room long before it would check whether n1 is alive.
    (m2, _, _) = await _node(log, "n2", persistence=p2, idle_unload_seconds=0.05, owner_check_seconds=3600)
    try:
        a, b = Client(), Client()
        room1 = await m1.join("doc", a.channel)
        room2 = await m2.join("doc", b.channel)
        sync_client(room1, a)
        sync_client(room2, b)
        room1.receive(a.channel, a.append("from n1"))  # n1 has not stored it (and will not: it dies)
        _die(bus1)
        m2.leave(room2, b.channel)
        await wait_until(lambda: document_text(merge_updates(store.log("doc"))) == "from n1")
        assert len(store.log("doc")) == 1  # the whole state, once: n2 stored none of n1's changes itself
    finally:
        await m2.close()
        await m1.close()


async def test_a_change_handed_over_alone_or_in_a_list_reaches_the_room_alike() -> None:
    """`on_update` (the Redis bus's usual entry) and `on_messages` with one UPDATE do the same: the
    change reaches the room's connections and its document; this node's own change and a room it does
    not hold are ignored."""
    log = MemoryLog()
    m1, _, fanout = await _node(log, "n1")
    try:
        reader, author = Client(), Client()
        room = await m1.join("doc", reader.channel)
        sync_client(room, reader)
        author.append("ab")
        author.append("cd")
        first, second = author.local_updates
        fanout.on_update("doc", "n2", first, None)
        fanout.on_messages("doc", [BusMessage("n2", MessageKind.UPDATE, second)])
        fanout.on_update("doc", "n1", b"\xff", None)  # this node's own: ignored (it would be refused)
        fanout.on_update("elsewhere", "n2", first, None)
        reader.catch_up()
        assert reader.content == "abcd"
        assert document_text(room.state_update()) == "abcd"
    finally:
        await m1.__aexit__(None, None, None)
