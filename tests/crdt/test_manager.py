"""The room manager: single-flight loading, idle unloading and its races, server changes, shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest

from crdt import (
    AwarenessEntry,
    CloseCode,
    MemoryStore,
    PersistenceExtension,
    RemoteOrigin,
    RoomManager,
    RoomManagerClosed,
    RoomState,
    ServerOrigin,
    StorageOrigin,
    SyncStep1,
)
from tests.conftest import wait_until
from tests.crdt.fakes import Client, FakeChannel, Recorder, awareness_entries, document_text, sync_client
from tests.crdt.faulty_store import FaultyStore


def stored_update(text: str) -> bytes:
    client = Client()
    client.append(text)
    return client.local_updates[-1]


async def test_fifty_joins_of_a_cold_room_load_it_once() -> None:
    recorder = Recorder(loads=[stored_update("stored text")])
    recorder.load_delay = 0.1
    async with RoomManager([recorder]) as rooms:
        clients = [Client() for _ in range(50)]
        joined = await asyncio.gather(*(rooms.join("cold", client.channel) for client in clients))
        assert recorder.load_calls == ["cold"]
        room = joined[0]
        assert all(r is room for r in joined)
        assert rooms.state_of("cold") is RoomState.ACTIVE
        for client in clients:
            first = client.channel.messages()[0]
            # Every greeting reflects the stored state: nobody was answered before the load.
            assert first == SyncStep1(room.state_vector())
            sync_client(room, client)
        assert {client.content for client in clients} == {"stored text"}
        room.receive(clients[0].channel, clients[0].append("!"))
        for client in clients:
            client.catch_up()
        assert {client.content for client in clients} == {"stored text!"}


async def test_a_failed_load_reaches_every_waiter_and_the_next_join_retries() -> None:
    recorder = Recorder(loads=[stored_update("eventually")])
    recorder.load_delay = 0.05
    recorder.load_failures = 1
    async with RoomManager([recorder]) as rooms:
        channels = [FakeChannel() for _ in range(5)]
        results = await asyncio.gather(*(rooms.join("r", ch) for ch in channels), return_exceptions=True)
        assert all(isinstance(result, OSError) for result in results)
        assert all(ch.sent == [] for ch in channels)
        assert rooms.get("r") is None and rooms.state_of("r") is None
        client = Client()
        room = await rooms.join("r", client.channel)
        sync_client(room, client)
        assert client.content == "eventually"
        assert recorder.load_calls == ["r", "r"]


async def test_a_waiter_that_gives_up_does_not_cancel_the_load() -> None:
    recorder = Recorder()
    recorder.load_delay = 0.1
    async with RoomManager([recorder]) as rooms:
        impatient = asyncio.create_task(rooms.join("r", FakeChannel()))
        patient_channel = FakeChannel()
        patient = asyncio.create_task(rooms.join("r", patient_channel))
        await wait_until(lambda: recorder.load_calls == ["r"])  # both joins wait on the one load
        impatient.cancel()
        room = await patient
        assert impatient.cancelled()
        assert room.channels == (patient_channel,)
        assert recorder.load_calls == ["r"]


async def test_extensions_run_in_priority_order() -> None:
    order: list[str] = []

    class Named(Recorder):
        def __init__(self, name: str, priority: int) -> None:
            super().__init__(priority=priority)
            self.name = name

        async def on_load(self, room_name: str) -> list[bytes]:
            order.append(self.name)
            return []

    async with RoomManager([Named("low", 1), Named("high", 50), Named("default", 10)]) as rooms:
        await rooms.read_state("r")
    assert order == ["high", "default", "low"]


async def test_extensions_start_with_the_manager_before_any_room_loads() -> None:
    recorder = Recorder()
    manager = RoomManager([recorder])
    assert recorder.starts == 0
    async with manager as rooms:
        assert recorder.starts == 1 and recorder.load_calls == []
        await rooms.read_state("r")
    assert recorder.starts == 1 and recorder.shutdowns == 1


async def test_an_extension_that_fails_to_start_stops_the_start_and_the_others_shut_down() -> None:
    broken, healthy = Recorder(priority=10), Recorder(priority=50)
    broken.start_failure = OSError("cannot reach the log")
    with pytest.raises(OSError, match="cannot reach the log"):
        async with RoomManager([broken, healthy]):
            raise AssertionError("the manager must not start")
    assert healthy.starts == 1 and healthy.shutdowns == 1


async def test_idle_room_unloads_and_reloads_the_same_document() -> None:
    store = FaultyStore()
    persistence = PersistenceExtension(store, debounce=0.01, max_delay=0.05)
    async with RoomManager([persistence], idle_unload_seconds=0.05) as rooms:
        alice = Client()
        room = await rooms.join("doc", alice.channel)
        sync_client(room, alice)
        room.receive(alice.channel, alice.append("persisted"))
        rooms.leave(room, alice.channel)
        assert rooms.state_of("doc") is RoomState.IDLE
        await wait_until(lambda: rooms.state_of("doc") is None)
        assert not persistence.is_dirty("doc")
        bob = Client()
        again = await rooms.join("doc", bob.channel)
        assert again is not room
        sync_client(again, bob)
        assert bob.content == "persisted"
        assert store.operations["load"] == 2


async def test_a_join_while_the_unload_is_pending_keeps_the_room() -> None:
    recorder = Recorder()
    async with RoomManager([recorder], idle_unload_seconds=0.1) as rooms:
        alice = Client()
        room = await rooms.join("r", alice.channel)
        room.receive(alice.channel, alice.append("kept"))
        rooms.leave(room, alice.channel)
        assert rooms.state_of("r") is RoomState.IDLE
        bob = Client()
        assert await rooms.join("r", bob.channel) is room
        assert rooms.state_of("r") is RoomState.ACTIVE
        await asyncio.sleep(0.2)  # waits out a negative: the cancelled unload must not run
        assert rooms.get("r") is room and recorder.unload_calls == []
        sync_client(room, bob)
        assert bob.content == "kept"


async def test_a_join_while_the_unload_runs_gets_the_live_room() -> None:
    recorder = Recorder()
    recorder.unload_gate = asyncio.Event()
    async with RoomManager([recorder], idle_unload_seconds=0.01) as rooms:
        alice = Client()
        room = await rooms.join("r", alice.channel)
        room.receive(alice.channel, alice.append("in memory"))
        rooms.leave(room, alice.channel)
        await wait_until(lambda: rooms.state_of("r") is RoomState.UNLOADING)
        bob = Client()
        assert await rooms.join("r", bob.channel) is room
        assert rooms.state_of("r") is RoomState.ACTIVE
        sync_client(room, bob)
        assert bob.content == "in memory"
        room.receive(bob.channel, bob.append(" and more"))  # after the flush started
        recorder.unload_gate.set()
        await asyncio.sleep(0.05)  # waits out a negative: the finished flush must not unload the room in use
        assert rooms.get("r") is room
        assert rooms.state_of("r") is RoomState.ACTIVE
        assert recorder.load_calls == ["r"]
        assert document_text(room.state_update()) == "in memory and more"
        # Once everybody leaves, the unload happens as usual.
        rooms.leave(room, bob.channel)
        await wait_until(lambda: rooms.state_of("r") is None)


async def test_a_server_update_while_the_unload_runs_keeps_the_room() -> None:
    recorder = Recorder()
    recorder.unload_gate = asyncio.Event()
    async with RoomManager([recorder], idle_unload_seconds=0.01) as rooms:
        await rooms.read_state("r")
        await wait_until(lambda: rooms.state_of("r") is RoomState.UNLOADING)
        room = rooms.get("r")
        await rooms.apply_server_update("r", stored_update("late"))
        recorder.unload_gate.set()
        # The first unload's hooks ran before the change, so it must not drop the room: only a
        # second unload (hooks run again) may.
        await wait_until(lambda: rooms.state_of("r") is None)
        assert recorder.unload_calls == ["r", "r"]
        assert room is not None and document_text(room.state_update()) == "late"
        assert recorder.changes[-1].origin == ServerOrigin()


async def test_before_unload_failure_keeps_the_room_and_retries(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    recorder.unload_failures = 2
    async with RoomManager([recorder], idle_unload_seconds=0.02) as rooms:
        await rooms.read_state("r")
        with caplog.at_level(logging.WARNING, logger="crdt.manager"):
            await wait_until(lambda: len(recorder.unload_calls) >= 2)
            assert rooms.get("r") is not None
            await wait_until(lambda: rooms.state_of("r") is None)
        assert len(recorder.unload_calls) == 3
        assert "before_unload failed" in caplog.text


async def test_server_updates_load_the_room_broadcast_and_report_their_origin() -> None:
    recorder = Recorder(loads=[stored_update("A")])
    async with RoomManager([recorder], idle_unload_seconds=60) as rooms:
        await rooms.apply_server_update("r", stored_update("B"))
        assert rooms.state_of("r") is RoomState.IDLE  # loaded for the update, nobody connected
        alice = Client()
        room = await rooms.join("r", alice.channel)
        sync_client(room, alice)
        await rooms.apply_server_update("r", stored_update("C"), RemoteOrigin("node-2"))
        alice.catch_up()
        assert sorted(alice.content) == ["A", "B", "C"]
        assert [type(e.origin) for e in recorder.changes] == [StorageOrigin, ServerOrigin, RemoteOrigin]
        assert sorted(document_text(await rooms.read_state("r"))) == ["A", "B", "C"]
        assert set(rooms.rooms) == {"r"}


async def test_outdated_awareness_is_swept_and_broadcast() -> None:
    async with RoomManager(awareness_sweep_seconds=0.02, awareness_outdated_after=0.05) as rooms:
        alice = Client()
        room = await rooms.join("r", alice.channel)
        room.apply_awareness([AwarenessEntry(9, 1, '{"ghost":true}')], RemoteOrigin("gone"))
        alice.channel.take()
        await wait_until(lambda: bool(alice.channel.sent))
        (removal,) = alice.channel.take()
        assert awareness_entries(removal.payload) == (AwarenessEntry(9, 1, "null"),)


async def test_close_shuts_down_in_order() -> None:
    store = MemoryStore()
    persistence = PersistenceExtension(store, debounce=10, max_delay=10)
    recorder = Recorder()
    manager = RoomManager([persistence, recorder])
    async with manager as rooms:
        clients = [Client(FakeChannel(on_close=lambda ch: None)) for _ in range(3)]
        for i, client in enumerate(clients):
            room = await rooms.join(f"room-{i}", client.channel)
            room.receive(client.channel, client.append(f"unsaved {i}"))
        assert persistence.dirty_rooms() == ["room-0", "room-1", "room-2"]
    assert all(client.channel.close_code == CloseCode.GOING_AWAY for client in clients)
    assert recorder.shutdowns == 1
    assert persistence.dirty_rooms() == []
    for i in range(3):
        assert document_text(b"".join(store.log(f"room-{i}")[:1])) == f"unsaved {i}"
    assert manager.rooms == {}
    with pytest.raises(RoomManagerClosed):
        await manager.join("room-0", FakeChannel())
    with pytest.raises(RoomManagerClosed):
        await manager.__aenter__()
    await manager.close()  # idempotent


async def test_close_during_a_load_fails_the_waiters_cleanly() -> None:
    recorder = Recorder()
    recorder.load_delay = 5
    manager = RoomManager([recorder], shutdown_timeout=0.05)
    await manager.__aenter__()
    join = asyncio.create_task(manager.join("slow", FakeChannel()))
    await wait_until(lambda: recorder.load_calls == ["slow"])  # the room is loading
    await manager.close()
    with pytest.raises(RoomManagerClosed):
        await join


async def test_leaving_channels_close_transport_style() -> None:
    # A transport calls leave() when its channel closes, here synchronously from close().
    async with RoomManager(idle_unload_seconds=60) as rooms:
        room_box: list[object] = []

        def on_close(channel: FakeChannel) -> None:
            rooms.leave(room, channel)
            room_box.append(channel)

        channel = FakeChannel(on_close=on_close)
        room = await rooms.join("r", channel)
        channel.close(CloseCode.NORMAL)
        assert room.channels == ()
        assert rooms.state_of("r") is RoomState.IDLE
        assert room_box == [channel]


def test_room_states_only_move_along_the_documented_edges() -> None:
    from crdt.manager import _TRANSITIONS, InvalidRoomTransition, _Slot

    slot = _Slot("r")
    assert slot.state is RoomState.LOADING
    with pytest.raises(InvalidRoomTransition, match="room 'r' is loading; it cannot become unloading"):
        slot.to(RoomState.UNLOADING)
    for state in (RoomState.IDLE, RoomState.UNLOADING, RoomState.ACTIVE, RoomState.IDLE, RoomState.UNLOADING):
        slot.to(state)
    slot.to(RoomState.UNLOADED)
    assert all(not _TRANSITIONS[s] for s in (RoomState.UNLOADED, RoomState.FAILED, RoomState.CLOSED))
    with pytest.raises(InvalidRoomTransition):
        slot.to(RoomState.ACTIVE)
