"""Sync over pycrdt through the codec, two ends back to back with no sockets."""

from __future__ import annotations

import random
from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Map, Text, TransactionEvent

from crdt import (
    Decoder,
    InvalidStateVector,
    Message,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    UpdateRejected,
    apply_update,
    create_sync_step1,
    decode_message,
    encode_message,
    encode_sync_update,
    handle_sync_message,
)
from crdt.sync import apply_updates
from tests.crdt.malformed import corpus, rich_update


class Peer:
    """One end of a y-websocket connection: a pycrdt Doc, an outbox of frames, the sync handler."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.doc: Doc[Text] = Doc()
        self.text = self.doc.get("text", type=Text)
        self.outbox: deque[bytes] = deque()
        self.synced = False
        self.doc.observe(self._on_change)

    def _on_change(self, event: TransactionEvent) -> None:
        # Relay local edits only; what arrived from the peer is already there.
        if not self.applying:
            self.outbox.append(encode_sync_update(event.update))

    applying = False

    def connect(self) -> None:
        self.outbox.append(encode_message(create_sync_step1(self.doc)))

    def receive(self, frame: bytes) -> None:
        msg = decode_message(frame)
        assert isinstance(msg, SyncStep1 | SyncStep2 | SyncUpdate)
        self.applying = True
        try:
            reply = handle_sync_message(self.doc, msg, origin=self.name)
        finally:
            self.applying = False
        if isinstance(msg, SyncStep2):
            self.synced = True
        if reply is not None:
            self.outbox.append(encode_message(reply))


def state_vector(doc: Doc[Text]) -> dict[int, int]:
    dec = Decoder(doc.get_state())
    clocks = {dec.read_var_uint(): dec.read_var_uint() for _ in range(dec.read_var_uint())}
    dec.expect_end()
    return clocks


def assert_nothing_missing(a: Doc[Text], b: Doc[Text]) -> None:
    # State vectors may list clients in any order: compare them as maps.
    assert state_vector(a) == state_vector(b)


def pump(a: Peer, b: Peer, rng: random.Random | None = None) -> None:
    """Deliver frames both ways until both outboxes are empty (optionally interleaved at random)."""
    while a.outbox or b.outbox:
        pairs = [(a, b), (b, a)]
        if rng is not None:
            rng.shuffle(pairs)
        for src, dst in pairs:
            if src.outbox:
                dst.receive(src.outbox.popleft())


def test_handshake_and_edits_converge() -> None:
    server, client = Peer("server"), Peer("client")
    server.text += "from the server. "
    client.text += "from the client. "
    server.connect()
    client.connect()
    pump(server, client)
    assert server.synced
    assert client.synced
    assert str(server.text) == str(client.text)
    assert "from the server." in str(client.text)
    client.text.insert(0, ">> ")
    del server.text[len(server.text) - 2 : len(server.text)]
    pump(server, client)
    assert str(server.text) == str(client.text)
    assert_nothing_missing(server.doc, client.doc)


def test_step1_answer_contains_only_what_is_missing() -> None:
    server = Peer("server")
    server.text += "abc"
    reply = handle_sync_message(server.doc, SyncStep1(server.doc.get_state()))
    assert isinstance(reply, SyncStep2)
    assert reply.update == b"\x00\x00"  # nothing missing: no structs, empty delete set
    full = handle_sync_message(server.doc, SyncStep1(b"\x00"))
    assert isinstance(full, SyncStep2)
    fresh: Doc[Text] = Doc()
    apply_update(fresh, full.update)
    assert str(fresh.get("text", type=Text)) == "abc"


def test_empty_document_step1() -> None:
    assert encode_message(create_sync_step1(Doc())) == bytes.fromhex("00000100")


@pytest.mark.parametrize("state_vector", [b"", b"\x01", b"\x05\x01", b"\xff\xff\xff"])
def test_invalid_state_vector(state_vector: bytes) -> None:
    with pytest.raises(InvalidStateVector):
        handle_sync_message(Doc(), SyncStep1(state_vector))


def test_origin_is_passed_to_the_transaction() -> None:
    # pycrdt 0.14's Doc.observe events carry no origin; shared-type events do.
    doc: Doc[Text] = Doc()
    seen: list[object] = []
    text = doc.get("text", type=Text)  # the subscription lives as long as this object
    text.observe(lambda event: seen.append(event.transaction.origin))
    source: Doc[Text] = Doc()
    source.get("text", type=Text).insert(0, "x")
    handle_sync_message(doc, SyncUpdate(source.get_update()), origin="conn-1")
    assert seen == ["conn-1"]


def test_handle_sync_message_rejects_other_messages() -> None:
    with pytest.raises(TypeError):
        handle_sync_message(Doc(), "nope")  # type: ignore[arg-type]


def snapshot(doc: Doc[Any]) -> tuple[bytes, bytes, str, dict[str, object]]:
    return (doc.get_state(), doc.get_update(), str(doc.get("text", type=Text)), doc.get("m", type=Map).to_py())


RICH_UPDATE = rich_update()  # a fixed client ID: the same bytes in every run


def target() -> Doc[Any]:
    doc: Doc[Any] = Doc()
    doc.get("text", type=Text).insert(0, "existing")
    doc.get("m", type=Map)["k"] = "v"
    return doc


@pytest.mark.parametrize(
    "corrupt",
    [
        b"\xff\xff\xff",
        RICH_UPDATE[: len(RICH_UPDATE) // 2],
        RICH_UPDATE[:-1],
        b"\x01\x01" + b"\xff" * 20,
        b"",
    ],
)
def test_corrupt_update_is_rejected_and_the_document_is_unchanged(corrupt: bytes) -> None:
    doc = target()
    before = snapshot(doc)
    with pytest.raises(UpdateRejected):
        handle_sync_message(doc, SyncUpdate(corrupt))
    assert snapshot(doc) == before
    # The document still works afterwards.
    doc.get("text", type=Text).insert(0, "!")
    apply_update(doc, RICH_UPDATE)
    assert "!" in str(doc.get("text", type=Text))


def test_fuzzed_updates_are_applied_or_refused_and_replicas_stay_equal() -> None:
    """8,000 deterministic mutations (well under a second). About 1 in 800 decodes but fails to
    integrate part-way (pycrdt raises RuntimeError): it must be refused as UpdateRejected like the
    rest, and what the engine did integrate must be exactly what the transaction reported."""
    outcomes = {"applied": 0, "refused": 0, "refused after integrating a part": 0}
    for update in corpus(4000):
        doc = target()
        before = snapshot(doc)
        base = doc.get_update()
        reported: list[bytes] = []
        subscription = doc.observe(lambda event, sink=reported: sink.append(event.update))
        try:
            apply_update(doc, update)
            outcomes["applied"] += 1
        except UpdateRejected:
            if not reported:
                assert snapshot(doc) == before
                outcomes["refused"] += 1
            else:
                # A replica given what was reported holds exactly what this document holds.
                replica: Doc[Any] = Doc()
                for part in (base, *reported):
                    replica.apply_update(part)
                assert snapshot(replica) == snapshot(doc)
                outcomes["refused after integrating a part"] += 1
        doc.unobserve(subscription)
        # Whatever happened, the document is still usable.
        doc.get("text", type=Text).insert(0, "ok")
        assert doc.get_update()
    assert all(outcomes.values()), outcomes  # the corpus reaches every outcome, the rare one included


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["insert", "delete"]), st.integers(0, 10**6)),
        max_size=40,
    ),
    st.integers(0, 2**32),
)
def test_random_concurrent_edits_converge(ops: list[tuple[str, str, int]], seed: int) -> None:
    rng = random.Random(seed)
    a, b = Peer("a"), Peer("b")
    a.connect()
    b.connect()
    for who, op, n in ops:
        peer = a if who == "a" else b
        length = len(peer.text)
        if op == "insert" or length == 0:
            peer.text.insert(n % (length + 1), f"<{who}{n % 100}>")
        else:
            start = n % length
            del peer.text[start : min(length, start + 1 + n % 3)]
        # Deliver a random part of the backlog so edits are often concurrent.
        for _ in range(rng.randrange(3)):
            src, dst = rng.choice([(a, b), (b, a)])
            if src.outbox:
                dst.receive(src.outbox.popleft())
    pump(a, b, rng)
    assert str(a.text) == str(b.text)
    assert_nothing_missing(a.doc, b.doc)


def test_out_of_order_updates_wait_as_pending_then_converge() -> None:
    src: Doc[Text] = Doc()
    text = src.get("text", type=Text)
    updates: list[bytes] = []
    src.observe(lambda event: updates.append(event.update))
    for ch in "abc":
        text += ch
    dst: Doc[Text] = Doc()
    for update in reversed(updates):
        handle_sync_message(dst, SyncUpdate(update))
    assert str(dst.get("text", type=Text)) == "abc"


def _typing(client_id: int, seed: int, count: int) -> list[bytes]:
    """``count`` keystroke updates of one author (inserts and deletes), each its own update."""
    doc: Doc[Text] = Doc(client_id=client_id)
    text = doc.get("text", type=Text)
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    rng = random.Random(seed)
    for _ in range(count):
        if len(text) > 3 and rng.random() < 0.3:
            start = rng.randrange(len(text) - 1)
            del text[start : start + 2]
        else:
            text.insert(rng.randrange(len(text) + 1), rng.choice("xyzw"))
    return updates


@pytest.mark.parametrize("seed", range(6))
def test_a_batch_applied_merged_equals_its_updates_applied_one_by_one(seed: int) -> None:
    """`apply_updates` merges a batch before applying it: the document ends the same as with each
    update applied alone, for batches in any order, with gaps (updates waiting for missing ones) and
    with duplicates; one batch is one transaction."""
    rng = random.Random(seed)
    updates = [u for client in (11, 12, 13) for u in _typing(client, seed * 10 + client, 30)]
    rng.shuffle(updates)
    updates += rng.sample(updates, 10)  # duplicates
    one_by_one: Doc[Text] = Doc()
    for update in updates:
        apply_update(one_by_one, update)
    batched: Doc[Text] = Doc()
    commits: list[bytes] = []
    batched.observe(lambda event: commits.append(event.update))
    batches = 0
    at = 0
    while at < len(updates):
        size = rng.randrange(2, 17)
        assert apply_updates(batched, updates[at : at + size], origin="node-b") == []
        at += size
        batches += 1
    assert len(commits) <= batches
    assert str(batched.get("text", type=Text)) == str(one_by_one.get("text", type=Text))
    assert_nothing_missing(batched, one_by_one)


def test_a_batch_with_a_refused_update_applies_the_others_and_reports_it() -> None:
    good = _typing(21, 1, 6)
    doc: Doc[Text] = Doc()
    refused = apply_updates(doc, [*good[:3], b"\x01\x01" + b"\xff" * 20, *good[3:]], origin="node-b")
    assert len(refused) == 1 and isinstance(refused[0], UpdateRejected)
    expected: Doc[Text] = Doc()
    for update in good:
        apply_update(expected, update)
    assert str(doc.get("text", type=Text)) == str(expected.get("text", type=Text))
    assert_nothing_missing(doc, expected)


def test_messages_survive_the_codec() -> None:
    msg: Message = SyncUpdate(RICH_UPDATE)
    assert decode_message(encode_message(msg)) == msg
