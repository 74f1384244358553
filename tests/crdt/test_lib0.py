"""lib0 encoding: known byte vectors, bounds, and properties over arbitrary input."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

import crdt.lib0
from crdt import (
    MAX_VAR_UINT,
    Decoder,
    Encoder,
    InvalidUtf8,
    ProtocolError,
    TrailingBytes,
    TruncatedMessage,
    VarUintOverflow,
    encode_var_string,
    encode_var_uint,
    encode_var_uint8array,
)

VAR_UINT_VECTORS = [
    (0, "00"),
    (1, "01"),
    (127, "7f"),
    (128, "8001"),
    (300, "ac02"),
    (16383, "ff7f"),
    (16384, "808001"),
    (2**32 - 1, "ffffffff0f"),
    (MAX_VAR_UINT, "ffffffffffffff0f"),
]


@pytest.mark.parametrize(("value", "hex_"), VAR_UINT_VECTORS)
def test_var_uint_vectors(value: int, hex_: str) -> None:
    assert encode_var_uint(value).hex() == hex_
    dec = Decoder(bytes.fromhex(hex_))
    assert dec.read_var_uint() == value
    assert dec.at_end()


@pytest.mark.parametrize("value", [-1, MAX_VAR_UINT + 1, 2**64])
def test_encoding_an_out_of_range_var_uint_is_a_caller_bug(value: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_var_uint(value)


def test_non_canonical_var_uint_is_accepted_like_lib0() -> None:
    assert Decoder(b"\x80\x00").read_var_uint() == 0
    assert Decoder(b"\xff\x80\x80\x00").read_var_uint() == 127


@pytest.mark.parametrize(
    "hex_",
    [
        "8080808080808010",  # 2**53: one above Number.MAX_SAFE_INTEGER
        "ffffffffffffff7f",  # 2**56 - 1
        "808080808080808000",  # 0, but 9 bytes long
        "ffffffffffffffffffff01",
    ],
)
def test_var_uint_overflow(hex_: str) -> None:
    with pytest.raises(VarUintOverflow):
        Decoder(bytes.fromhex(hex_)).read_var_uint()


@pytest.mark.parametrize("hex_", ["", "80", "ffff", "ffffffffffffff"])
def test_truncated_var_uint(hex_: str) -> None:
    with pytest.raises(TruncatedMessage):
        Decoder(bytes.fromhex(hex_)).read_var_uint()


def test_var_uint8array() -> None:
    assert encode_var_uint8array(b"abc").hex() == "03616263"
    dec = Decoder(bytes.fromhex("03616263") + b"!")
    assert dec.read_var_uint8array() == b"abc"
    assert dec.position == 4
    assert dec.remaining == 1
    with pytest.raises(TrailingBytes):
        dec.expect_end()


@pytest.mark.parametrize(
    "hex_",
    [
        "04616263",  # one byte short
        "ffffffff0f00",  # 4 GiB announced, 1 byte present
        "ffffffffffffff0f",  # 2**53 - 1 announced, nothing present
    ],
)
def test_length_prefix_larger_than_the_input(hex_: str) -> None:
    with pytest.raises(TruncatedMessage, match="declares"):
        Decoder(bytes.fromhex(hex_)).read_var_uint8array()
    with pytest.raises(TruncatedMessage, match="declares"):
        Decoder(bytes.fromhex(hex_)).read_var_string()


@pytest.mark.parametrize(
    ("text", "hex_"),
    [("", "00"), ("hi", "026869"), ("é", "02c3a9"), ("😀", "04f09f9880"), ("a\x00b", "03610062")],
)
def test_var_string_vectors(text: str, hex_: str) -> None:
    assert encode_var_string(text).hex() == hex_
    assert Decoder(bytes.fromhex(hex_)).read_var_string() == text


def test_lone_surrogates_are_written_as_replacement_characters_like_text_encoder() -> None:
    assert encode_var_string("a\ud800b").hex() == "0561efbfbd62"
    enc = Encoder()
    enc.write_var_string("\udfff")
    assert enc.to_bytes().hex() == "03efbfbd"
    # A properly paired surrogate written as two code points becomes the real character.
    assert encode_var_string("\ud83d\ude00") == encode_var_string("😀")


@pytest.mark.parametrize(
    "hex_",
    [
        "02c328",  # invalid continuation byte
        "01ff",
        "03eda080",  # an encoded surrogate (CESU-8), not UTF-8
        "02c0af",  # overlong '/'
        "03e282",  # truncated inside the string's own bytes
    ],
)
def test_invalid_utf8(hex_: str) -> None:
    with pytest.raises((InvalidUtf8, TruncatedMessage)):
        Decoder(bytes.fromhex(hex_)).read_var_string()


def test_invalid_utf8_does_not_advance() -> None:
    dec = Decoder(bytes.fromhex("01ff"))
    with pytest.raises(InvalidUtf8):
        dec.read_var_string()
    assert dec.position == 1


def test_encoder() -> None:
    enc = Encoder()
    enc.write_var_uint(300)
    enc.write_var_uint8array(memoryview(b"xy"))
    enc.write_var_string("é")
    enc.write_raw(bytearray(b"\xff"))
    assert len(enc) == 9
    assert enc.to_bytes().hex() == "ac0202787902c3a9ff"


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_decoder_accepts_any_buffer(wrap: type) -> None:
    data = wrap(bytes.fromhex("ac0202787902c3a9ff"))
    dec = Decoder(data)
    assert dec.read_var_uint() == 300
    assert dec.read_var_uint8array() == b"xy"
    assert dec.read_var_string() == "é"
    assert dec.read_remaining() == b"\xff"
    assert dec.at_end()
    dec.expect_end()


def test_memoryview_slices_decode_from_the_slice_start() -> None:
    view = memoryview(b"\x00\x00\x02hi")[2:]
    assert Decoder(view).read_var_string() == "hi"


def test_doctests() -> None:
    assert doctest.testmod(crdt.lib0).failed == 0


@given(st.integers(min_value=0, max_value=MAX_VAR_UINT))
def test_var_uint_round_trip(value: int) -> None:
    raw = encode_var_uint(value)
    assert len(raw) <= 8
    dec = Decoder(raw)
    assert dec.read_var_uint() == value
    assert dec.at_end()


@given(
    st.lists(
        st.one_of(
            st.integers(min_value=0, max_value=MAX_VAR_UINT),
            st.binary(max_size=300),
            st.text(max_size=100),
        ),
        max_size=20,
    )
)
def test_mixed_round_trip(values: list[int | bytes | str]) -> None:
    enc = Encoder()
    for value in values:
        if isinstance(value, int):
            enc.write_var_uint(value)
        elif isinstance(value, bytes):
            enc.write_var_uint8array(value)
        else:
            enc.write_var_string(value)
    dec = Decoder(enc.to_bytes())
    for value in values:
        if isinstance(value, int):
            assert dec.read_var_uint() == value
        elif isinstance(value, bytes):
            assert dec.read_var_uint8array() == value
        else:
            assert dec.read_var_string() == value
    dec.expect_end()


@given(st.binary(max_size=64), st.lists(st.sampled_from(["uint", "bytes", "string"]), max_size=8))
def test_arbitrary_bytes_only_raise_protocol_errors(data: bytes, reads: list[str]) -> None:
    dec = Decoder(data)
    try:
        for read in reads:
            if read == "uint":
                dec.read_var_uint()
            elif read == "bytes":
                dec.read_var_uint8array()
            else:
                dec.read_var_string()
    except ProtocolError:
        return
    assert dec.position <= len(data)


@given(st.integers(min_value=128, max_value=MAX_VAR_UINT))
def test_every_strict_prefix_of_a_var_uint_is_truncated(value: int) -> None:
    raw = encode_var_uint(value)
    for cut in range(len(raw)):
        with pytest.raises(TruncatedMessage):
            Decoder(raw[:cut]).read_var_uint()
