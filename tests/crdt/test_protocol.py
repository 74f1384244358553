"""The y-websocket message codec: byte vectors, strictness, and properties over arbitrary input."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycrdt import Doc, Text

import crdt
from crdt import (
    MAX_VAR_UINT,
    AuthPermissionDenied,
    AwarenessEntry,
    AwarenessMessage,
    InvalidAwarenessState,
    Message,
    MessageType,
    ProtocolError,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncType,
    SyncUpdate,
    TrailingBytes,
    TruncatedMessage,
    UnknownMessageType,
    decode_message,
    encode_awareness,
    encode_awareness_update,
    encode_message,
    encode_permission_denied,
    encode_query_awareness,
    encode_sync_step1,
    encode_sync_step2,
    encode_sync_update,
    parse_awareness_state,
    parse_awareness_update,
    validate_awareness_state,
)


def test_message_type_values() -> None:
    assert [int(t) for t in MessageType] == [0, 1, 2, 3]
    assert [int(t) for t in SyncType] == [0, 1, 2]


def test_empty_document_step1_is_00_00_01_00() -> None:
    frame = encode_sync_step1(Doc().get_state())
    assert frame == bytes.fromhex("00000100")
    assert decode_message(frame) == SyncStep1(b"\x00")


def test_sync_vectors() -> None:
    assert encode_sync_step2(b"\x00\x00").hex() == "0001020000"
    assert encode_sync_update(b"\xab").hex() == "000201ab"
    assert decode_message(bytes.fromhex("0001020000")) == SyncStep2(b"\x00\x00")
    assert decode_message(bytes.fromhex("000201ab")) == SyncUpdate(b"\xab")


def test_real_update_frame() -> None:
    doc: Doc[Text] = Doc()
    doc["text"] = text = Text()
    text += "hi"
    update = doc.get_update()
    frame = encode_sync_update(update)
    assert frame[:2] == b"\x00\x02"
    assert frame[2] == len(update)
    assert decode_message(frame) == SyncUpdate(update)


def test_awareness_vector() -> None:
    entries = (AwarenessEntry(client_id=1, clock=2, state='{"a":1}'),)
    frame = encode_awareness(entries)
    # type 1, payload length 11, n=1, clientID 1, clock 2, varString '{"a":1}'
    assert frame.hex() == "010b" + "01" + "01" + "02" + "07" + b'{"a":1}'.hex()
    assert decode_message(frame) == AwarenessMessage(entries)
    assert parse_awareness_update(frame[2:]) == entries


def test_awareness_vector_with_a_32_bit_client_id_and_a_removal() -> None:
    entries = (AwarenessEntry(3_000_000_000, 300, "null"), AwarenessEntry(7, 1, "{}"))
    payload = encode_awareness_update(entries)
    assert payload.hex() == "02" + "80bcc1960b" + "ac02" + "04" + b"null".hex() + "07" + "01" + "02" + b"{}".hex()
    assert entries[0].is_removal
    assert not entries[1].is_removal
    assert decode_message(encode_awareness(entries)) == AwarenessMessage(entries)


def test_empty_awareness() -> None:
    assert encode_awareness(()).hex() == "010100"
    assert decode_message(bytes.fromhex("010100")) == AwarenessMessage(())


def test_auth_and_query_vectors() -> None:
    assert encode_permission_denied("no").hex() == "0200026e6f"
    assert decode_message(bytes.fromhex("0200026e6f")) == AuthPermissionDenied("no")
    assert encode_query_awareness() == b"\x03"
    assert decode_message(b"\x03") == QueryAwareness()


@pytest.mark.parametrize(
    "hex_",
    [
        "0000010000",  # step1 + 1 byte
        "000201abff",
        "0001020000ff",
        "03ff",
        "0200026e6f00",
        "010100ff",  # after the awareness payload
        "01020000",  # inside the awareness payload: n=0 but 1 byte left
    ],
)
def test_trailing_bytes_are_rejected(hex_: str) -> None:
    with pytest.raises(TrailingBytes):
        decode_message(bytes.fromhex(hex_))


@pytest.mark.parametrize("hex_", ["04", "7f", "ac02", "0003", "000400", "0201", "020100"])
def test_unknown_types(hex_: str) -> None:
    with pytest.raises(UnknownMessageType):
        decode_message(bytes.fromhex(hex_))


@pytest.mark.parametrize(
    "hex_",
    [
        "",
        "00",
        "0000",
        "000005aabb",
        "0002ffffffff0f00",  # 4 GiB update announced
        "01",
        "0105ffffffff0f",  # awareness: 2**32 - 1 entries announced
        "01040101010a",  # awareness: state length past the payload
        "02",
        "0200",
    ],
)
def test_truncated_and_absurd_lengths(hex_: str) -> None:
    with pytest.raises(TruncatedMessage):
        decode_message(bytes.fromhex(hex_))


def test_decode_accepts_memoryview_and_bytearray() -> None:
    frame = encode_sync_update(b"xyz")
    assert decode_message(memoryview(frame)) == SyncUpdate(b"xyz")
    assert decode_message(bytearray(frame)) == SyncUpdate(b"xyz")


def test_encode_message_rejects_non_messages() -> None:
    with pytest.raises(TypeError):
        encode_message("hello")  # type: ignore[arg-type]


@pytest.mark.parametrize("state", ["null", "{}", '{"user":{"name":"é"}}', " [1, 2.5e3, true] ", '"x"', "0"])
def test_valid_awareness_states(state: str) -> None:
    validate_awareness_state(state)


def test_parse_awareness_state() -> None:
    assert parse_awareness_state("null") is None
    assert parse_awareness_state(" null ") is None
    assert parse_awareness_state('{"a":[1]}') == {"a": [1]}


@pytest.mark.parametrize(
    "state",
    ["", "{", "undefined", "NaN", "[Infinity]", "-Infinity", "[1,]", "{'a':1}", "\ufeff{}", '"\x01"', "[" * 100_000],
)
def test_invalid_awareness_states(state: str) -> None:
    with pytest.raises(InvalidAwarenessState):
        validate_awareness_state(state)


def test_doctests() -> None:
    assert doctest.testmod(crdt).failed == 0


var_uints = st.integers(min_value=0, max_value=MAX_VAR_UINT)
awareness_entries = st.builds(AwarenessEntry, var_uints, var_uints, st.text(max_size=50))
messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(SyncStep1, st.binary(max_size=200)),
    st.builds(SyncStep2, st.binary(max_size=200)),
    st.builds(SyncUpdate, st.binary(max_size=200)),
    st.builds(AwarenessMessage, st.lists(awareness_entries, max_size=8).map(tuple)),
    st.builds(AuthPermissionDenied, st.text(max_size=100)),
    st.just(QueryAwareness()),
)


@given(messages)
def test_round_trip(msg: Message) -> None:
    frame = encode_message(msg)
    assert decode_message(frame) == msg
    assert encode_message(decode_message(frame)) == frame


@given(messages, st.data())
def test_every_strict_prefix_is_rejected(msg: Message, data: st.DataObject) -> None:
    frame = encode_message(msg)
    cut = data.draw(st.integers(min_value=0, max_value=len(frame) - 1))
    with pytest.raises(ProtocolError):
        decode_message(frame[:cut])


@given(messages, st.binary(min_size=1, max_size=8))
def test_any_trailing_bytes_are_rejected(msg: Message, tail: bytes) -> None:
    with pytest.raises(TrailingBytes):
        decode_message(encode_message(msg) + tail)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_protocol_errors(frame: bytes) -> None:
    try:
        msg = decode_message(frame)
    except ProtocolError:
        return
    # Whatever decodes must re-encode and decode to the same message (non-canonical varUints aside).
    assert decode_message(encode_message(msg)) == msg


@given(st.sampled_from([b"\x00\x00", b"\x00\x01", b"\x00\x02", b"\x01", b"\x02\x00"]), st.binary(max_size=60))
def test_arbitrary_bodies_raise_only_protocol_errors(prefix: bytes, body: bytes) -> None:
    try:
        decode_message(prefix + body)
    except ProtocolError:
        return


@given(st.text(max_size=200))
def test_awareness_state_validation_raises_only_its_error(state: str) -> None:
    try:
        validate_awareness_state(state)
    except InvalidAwarenessState:
        return
