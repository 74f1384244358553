"""Changes of other nodes relayed at once and integrated in batches (`Room.relay`): connections get them
immediately, every read of the document sees them, hooks hear them once per batch."""

from __future__ import annotations

from crdt import RemoteOrigin, Room, SyncUpdate
from crdt.room import INTEGRATE_SECONDS, MAX_RELAYED, RELAY_MAX_BYTES
from tests.conftest import wait_until
from tests.crdt.fakes import Client, FakeChannel, Recorder, document_text, sync_client


def joined(room: Room, n: int) -> list[Client]:
    clients = [Client(FakeChannel()) for _ in range(n)]
    for client in clients:
        room.add(client.channel)
        sync_client(room, client)
    return clients


def remote_edits(texts: list[str]) -> list[bytes]:
    """Updates of another node's client typing ``texts`` one after the other."""
    author = Client()
    for text in texts:
        author.append(text)
    return author.local_updates


async def test_a_relayed_change_reaches_connections_at_once_and_every_read_sees_it() -> None:
    recorder = Recorder()
    room = Room("r", extensions=[recorder])
    (viewer,) = joined(room, 1)
    (update,) = remote_edits(["hello"])
    room.relay(update, RemoteOrigin("node-b"))
    # Delivered now, as the node sent it ...
    assert [m.update for m in viewer.catch_up() if isinstance(m, SyncUpdate)] == [update]
    assert recorder.changes == []  # ... not integrated yet
    # ... and every read of the document integrates it first.
    assert document_text(room.state_update()) == "hello"
    assert [(e.update, e.origin) for e in recorder.changes] == [(update, RemoteOrigin("node-b"))]


async def test_relayed_changes_are_integrated_in_one_transaction_per_node_run() -> None:
    recorder = Recorder()
    room = Room("r", extensions=[recorder])
    b1, b2, b3 = remote_edits(["a", "b", "c"])
    (c1,) = remote_edits(["z"])
    for update, node in ((b1, "b"), (b2, "b"), (c1, "c"), (b3, "b")):
        room.relay(update, RemoteOrigin(node))
    await wait_until(lambda: bool(recorder.changes), within=10 * INTEGRATE_SECONDS + 5)
    assert [e.origin for e in recorder.changes] == [RemoteOrigin("b"), RemoteOrigin("c"), RemoteOrigin("b")]
    assert room.stats.changes == 3
    assert sorted(document_text(room.state_update())) == sorted("abcz")


async def test_a_local_edit_that_builds_on_a_relayed_one_is_accepted_and_broadcast() -> None:
    """The room integrates what it relayed before applying a client's change: a change that depends on
    a relayed one is not left pending (it would never be broadcast)."""
    room = Room("r")
    editor, viewer = joined(room, 2)
    (update,) = remote_edits(["base"])
    room.relay(update, RemoteOrigin("node-b"))
    editor.catch_up()
    viewer.catch_up()
    assert editor.content == "base"
    frame = editor.append("+mine")
    room.receive(editor.channel, frame)
    viewer.catch_up()
    assert viewer.content == "base+mine"
    assert editor.channel.closed is None


async def test_a_large_remote_change_is_applied_at_once_and_only_its_effect_goes_out() -> None:
    recorder = Recorder()
    room = Room("r", extensions=[recorder])
    (viewer,) = joined(room, 1)
    (big,) = remote_edits(["x" * (RELAY_MAX_BYTES + 10)])
    room.relay(big, RemoteOrigin("node-b"))
    assert len(recorder.changes) == 1  # applied now
    viewer.catch_up()
    room.relay(big, RemoteOrigin("node-c"))  # a resync sending it again: nothing new, nothing sent
    assert viewer.catch_up() == []
    assert len(recorder.changes) == 1


async def test_too_many_waiting_changes_are_integrated_at_once() -> None:
    recorder = Recorder()
    room = Room("r", extensions=[recorder])
    updates = remote_edits([str(i % 10) for i in range(MAX_RELAYED)])
    for update in updates:
        room.relay(update, RemoteOrigin("b"))
    assert len(recorder.changes) == 1  # the last one filled the batch
    room.state_update()
    assert len(recorder.changes) == 1  # nothing was left waiting


async def test_the_timer_integrates_without_a_reader() -> None:
    recorder = Recorder()
    room = Room("r", extensions=[recorder])
    (update,) = remote_edits(["later"])
    room.relay(update, RemoteOrigin("b"))
    assert recorder.changes == []  # not on the spot
    await wait_until(lambda: bool(recorder.changes), within=5)
    assert [e.update for e in recorder.changes] == [update]
