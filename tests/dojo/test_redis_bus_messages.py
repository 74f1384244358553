"""The log messages' format as a node reads it (`dojo.redis_bus.APPEND_SCRIPT`), without Redis."""

from __future__ import annotations

import pytest

from dojo.redis_bus import _split_fields, _usual_update


def message(*fields: bytes, lengths: list[bytes] | None = None) -> tuple[list[bytes], bytes]:
    """A log message as `APPEND_SCRIPT` publishes it, split as `RedisBus._on_entry` splits it: the
    head line's items (two IDs, then each field's length) and the body."""
    head = [b"1-0", b"2-0", *(lengths if lengths is not None else [b"%d" % len(f) for f in fields])]
    return head, b"".join(fields)


def test_the_usual_message_is_read_without_splitting_every_field() -> None:
    items, body = message(b"n", b"node-a", b"k", b"u", b"p", b"\x01\x02\x03")
    assert _usual_update(items, body) == (b"node-a", b"\x01\x02\x03")
    assert _split_fields(items[2:], body) == [b"n", b"node-a", b"k", b"u", b"p", b"\x01\x02\x03"]


def test_an_empty_payload_is_still_the_usual_message() -> None:
    items, body = message(b"n", b"x", b"k", b"u", b"p", b"")
    assert _usual_update(items, body) == (b"x", b"")


@pytest.mark.parametrize(
    ("fields", "lengths"),
    [
        ((b"n", b"node-a", b"k", b"s", b"p", b"\x00"), None),  # another kind (a sync request)
        ((b"n", b"node-a", b"k", b"u", b"p", b"\x01", b"traceparent", b"00-ab"), None),  # more fields
        ((b"k", b"u", b"n", b"node-a", b"p", b"\x01"), None),  # other order
        ((b"n", b"node-a", b"k", b"u", b"p", b"\x01\x02"), [b"1", b"6", b"1", b"1", b"1", b"3"]),  # too short
        ((b"n", b"node-a", b"k", b"u", b"p", b"\x01\x02"), [b"1", b"5", b"1", b"1", b"1", b"2"]),  # shifted
        ((b"n", b"node-a", b"k", b"u", b"p", b"\x01"), [b"1", b"six", b"1", b"1", b"1", b"1"]),  # not a number
        ((b"n", b"node-a", b"k", b"u", b"p", b"\x01"), [b"1", b"-6", b"1", b"1", b"1", b"1"]),
        ((b"N", b"node-a", b"k", b"u", b"p", b"\x01"), None),  # not the field names
    ],
)
def test_any_other_message_is_left_to_the_general_reading(
    fields: tuple[bytes, ...], lengths: list[bytes] | None
) -> None:
    items, body = message(*fields, lengths=lengths)
    assert _usual_update(items, body) is None
