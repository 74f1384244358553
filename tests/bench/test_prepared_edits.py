"""bench/cluster_loadgen.py's prepared edits: an edit made before the step, with its send time written in
when it goes out, is byte for byte the update a live edit makes; after the prepared ones run out the client
edits live and the sequence goes on; a sync step 1 from the server after preparing fails the client."""

from __future__ import annotations

import pycrdt
from cluster_loadgen import ClusterClient, ClusterStats
from loadgen import MARKER, OP_BINARY

from crdt import SyncUpdate, decode_message, encode_sync_step1

TAG = 0x2A
CLIENT_ID = 4242


class Capturing(ClusterClient):
    """A client without a connection: what it would send is kept."""

    def __init__(self) -> None:
        super().__init__(ClusterStats(), "ws://127.0.0.1:1/r", TAG, CLIENT_ID, "edit")
        self.sent: list[bytes] = []

    def send_payload(self, payload: bytes) -> None:
        self.sent.append(payload)

    def send_frame(self, frame: bytes) -> None:
        # A binary frame with FIN, masked, under 126 bytes, its key zero: the payload follows as is.
        assert frame[0] == 0x80 | OP_BINARY and frame[1] & 0x80 and (frame[1] & 0x7F) < 126
        assert frame[2:6] == bytes(4)
        assert len(frame) == 6 + (frame[1] & 0x7F)
        self.sent.append(frame[6:])


def updates(client: Capturing) -> list[bytes]:
    out = []
    for payload in client.sent:
        message = decode_message(payload)
        assert isinstance(message, SyncUpdate)
        out.append(message.update)
    return out


def stamp(update: bytes) -> bytes:
    match = MARKER.search(update)
    assert match is not None and int(match[1], 16) == TAG
    return match[2]


async def test_a_prepared_edit_is_the_update_a_live_edit_makes() -> None:
    live, prepared = Capturing(), Capturing()
    assert prepared.prepare(3) == 3
    assert prepared.prepare(3) == 0  # topped up, not made again
    for _ in range(5):  # 3 prepared, then 2 live ones
        live.send_edit()
        prepared.send_edit()
    made_live, made_prepared = updates(live), updates(prepared)
    for a, b in zip(made_live, made_prepared, strict=True):
        assert b.replace(stamp(b), stamp(a)) == a  # same bytes but for the send time
    assert all(stamp(b) != b"0" * 12 for b in made_prepared)  # every placeholder was written over
    doc: pycrdt.Doc[object] = pycrdt.Doc()
    for update in made_prepared:
        doc.apply_update(update)
    text = str(doc.get("t", type=pycrdt.Text))
    assert text == "".join(f"[{TAG:04x}{stamp(u).decode()}]" for u in made_prepared)


async def test_sync_step_1_after_preparing_fails_the_client() -> None:
    client = Capturing()
    client.prepare(1)
    client._on_message(encode_sync_step1(b"\x00"), 0)
    assert client.closed
    assert "prepared" in client.stats.disconnects[0]
