"""Changes of other nodes relayed at once and integrated in batches (`Room.relay`): connections get them
immediately, every read of the document sees them, hooks hear them once per batch."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crdt import ConnectionOrigin, RemoteOrigin, Room, SyncUpdate
from crdt.lib0 import encode_var_uint
from crdt.room import INTEGRATE_SECONDS, MAX_RELAYED, RELAY_MAX_BYTES
from crdt.updates import merge_updates, struct_client
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


async def test_relayed_changes_are_integrated_in_one_transaction_per_batch() -> None:
    recorder = Recorder()
    room = Room("r", extensions=[recorder])
    b1, b2, b3 = remote_edits(["a", "b", "c"])
    (c1,) = remote_edits(["z"])
    for update, node in ((b1, "b"), (b2, "b"), (c1, "c"), (b3, "b")):
        room.relay(update, RemoteOrigin(node))
    await wait_until(lambda: bool(recorder.changes), within=10 * INTEGRATE_SECONDS + 5)
    assert [e.origin for e in recorder.changes] == [RemoteOrigin("b,c")]  # the nodes, in order of appearance
    assert room.stats.changes == 1
    assert sorted(document_text(room.state_update())) == sorted("abcz")
    (b4,) = remote_edits(["d"])
    room.relay(b4, RemoteOrigin("b"))
    room.integrate()
    assert recorder.changes[-1].origin == RemoteOrigin("b")  # one node's batch: that node


async def test_a_change_the_engine_refuses_is_skipped_and_the_rest_of_its_batch_integrated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    room = Room("r")
    first, second = remote_edits(["ab", "cd"])
    room.relay(first, RemoteOrigin("b"))
    room.relay(b"\x01\x01\xff\xff\xff", RemoteOrigin("c"))  # announces one client, then garbage
    room.relay(second, RemoteOrigin("b"))
    room.integrate()
    assert document_text(room.state_update()) == "abcd"
    assert "refused a change of node b,c" in caplog.text


async def test_a_local_edit_that_does_not_depend_on_relayed_ones_leaves_them_to_their_batch() -> None:
    """Integrating before every local change made runs of one or two changes; a change that cannot
    refer to a relayed one (it does not carry the client ID of one) is applied without them."""
    recorder = Recorder()
    room = Room("r", extensions=[recorder])
    editor, viewer = joined(room, 2)
    (remote,) = remote_edits(["far away"])
    room.relay(remote, RemoteOrigin("node-b"))
    frame = editor.append("mine")  # before the editor has the relayed change: it cannot refer to it
    room.receive(editor.channel, frame)
    assert [e.origin for e in recorder.changes] == [ConnectionOrigin(editor.channel.key)]  # the relayed one waits
    viewer.catch_up()
    assert sorted(viewer.content) == sorted("far awaymine")
    await wait_until(lambda: any(e.update == remote for e in recorder.changes), within=10 * INTEGRATE_SECONDS + 5)
    assert sorted(document_text(room.state_update())) == sorted("far awaymine")
    assert editor.channel.closed is None


@pytest.mark.parametrize(
    ("edit", "expected"),
    [(lambda client: client.append("+mine"), "base+mine"), (lambda client: client.delete(0, 2), "se")],
    ids=["inserting after it", "deleting from it"],
)
async def test_a_local_edit_that_builds_on_a_relayed_one_is_accepted_and_broadcast(
    edit: Callable[[Client], bytes], expected: str
) -> None:
    """A change that refers to a relayed one (an insertion next to its text, a deletion of it: both
    carry its client ID) integrates it first: applied before what it builds on, the change would wait,
    pending, and never be broadcast."""
    room = Room("r")
    editor, viewer = joined(room, 2)
    (update,) = remote_edits(["base"])
    room.relay(update, RemoteOrigin("node-b"))
    editor.catch_up()
    viewer.catch_up()
    assert editor.content == "base"
    room.receive(editor.channel, edit(editor))
    viewer.catch_up()
    assert viewer.content == expected
    assert document_text(room.state_update()) == expected
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


def test_struct_client_reads_the_client_of_one_clients_update() -> None:
    author = Client()
    author.append("hello")
    author.delete(0, 1)
    insert, delete = author.local_updates
    encoded = encode_var_uint(author.doc.client_id)
    assert struct_client(insert) == encoded
    assert struct_client(delete) == b""  # deletions only: no structs to depend on
    assert struct_client(merge_updates([insert, *remote_edits(["other"])])) is None  # two clients
    assert struct_client(b"") is None
    assert struct_client(b"\x01\x01\xff\xff") is None  # a client ID that does not end


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["b", "c", "local", "sync"]), st.integers(0, 50), st.integers(0, 3))))
def test_relayed_and_local_changes_in_any_order_converge_without_pending(ops: list[tuple[str, int, int]]) -> None:
    """Two other nodes' authors type and delete (relayed), a local editor does too, catching up with what
    the room sent it at random moments: every change reaches the viewer, and the room's document, the
    viewer's and the editor's end equal (a local change left pending would be missing from them)."""
    room = Room("r")
    editor, viewer = joined(room, 2)
    authors = {"b": Client(), "c": Client()}
    for author in authors.values():
        author.apply(room.state_update())
    for who, at, length in ops:
        if who == "sync":
            editor.catch_up()
            continue
        client = editor if who == "local" else authors[who]
        size = len(client.text)
        if length and size:
            start = at % size
            frame = client.delete(start, min(size, start + length))
        else:
            frame = client.insert(at % (size + 1), f"{who[0]}{at}")
        if who == "local":
            room.receive(editor.channel, frame)
        else:
            room.relay(client.local_updates[-1], RemoteOrigin(who))
            for other in authors.values():  # the other nodes' authors see each other's changes
                if other is not client:
                    other.apply(client.local_updates[-1])
    editor.catch_up()
    viewer.catch_up()
    assert editor.channel.closed is None
    assert viewer.content == editor.content == document_text(room.state_update())
