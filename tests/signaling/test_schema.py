"""The message schemas and the parser (no I/O): every client type, and precise errors."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import orjson
import pytest

from signaling import SERVER_SCHEMAS, InvalidJson, InvalidMessage, MessageParser, MessageTooLarge, UnknownType
from signaling.schema import SERVER_ONLY_TYPES, client_schemas

PARSER = MessageParser(64 * 1024)
CANDIDATE = {"candidate": "candidate:1 1 udp 2130706431 192.0.2.2 41562 typ host", "sdpMid": "0", "sdpMLineIndex": 0}

VALID: list[dict[str, Any]] = [
    {"type": "offer", "to": "p1", "sdp": "v=0\r\n"},
    {"type": "offer", "to": "p1", "sdp": "v=0\r\n", "id": "m-1"},
    {"type": "answer", "to": "p1", "sdp": "v=0\r\n", "id": 42},
    {"type": "candidate", "to": "p1", "candidate": CANDIDATE},
    {"type": "candidate", "to": "p1", "candidate": {"candidate": ""}},
    {"type": "candidate", "to": "p1", "candidate": None},
    {"type": "candidate", "to": "p1", "candidate": {**CANDIDATE, "usernameFragment": None, "sdpMid": None}},
    {"type": "state", "audio": True},
    {"type": "state", "video": False},
    {"type": "state", "audio": False, "video": True},
    {"type": "refresh-ice"},
    {"type": "ping", "id": 1},
    {"type": "leave"},
]


@pytest.mark.parametrize("message", VALID, ids=lambda m: m["type"])
def test_every_client_message_type_parses(message: dict[str, Any]) -> None:
    assert PARSER.parse(orjson.dumps(message)) == message
    assert PARSER.parse(orjson.dumps(message).decode()) == message


def test_the_documented_types_are_exactly_these() -> None:
    assert set(client_schemas()) == {"offer", "answer", "candidate", "state", "refresh-ice", "ping", "leave"}
    assert {"dojo", "chat"} <= SERVER_ONLY_TYPES
    assert set(SERVER_SCHEMAS) == SERVER_ONLY_TYPES | {"offer", "answer", "candidate"}
    for schema in [*client_schemas().values(), *SERVER_SCHEMAS.values()]:
        jsonschema_rs.validator_for(schema)  # each one is a valid JSON Schema


@pytest.mark.parametrize(
    ("message", "path", "words"),
    [
        ({"type": "offer", "sdp": "x"}, "/to", "offer: /to is required"),
        ({"type": "answer", "to": "p1"}, "/sdp", "answer: /sdp is required"),
        ({"type": "candidate", "to": "p1"}, "/candidate", "/candidate is required"),
        ({"type": "candidate", "to": "p1", "candidate": {}}, "/candidate/candidate", "is required"),
        ({"type": "offer", "to": ["p1"], "sdp": "x"}, "/to", "must be string, not array"),
        ({"type": "offer", "to": "", "sdp": "x"}, "/to", "at least 1 character"),
        ({"type": "offer", "to": "p" * 65, "sdp": "x"}, "/to", "longer than 64 characters"),
        ({"type": "offer", "to": "p1", "sdp": 3.5}, "/sdp", "must be string, not number"),
        ({"type": "candidate", "to": "p1", "candidate": "c"}, "/candidate", "must be null or object, not string"),
        ({"type": "candidate", "to": "p1", "candidate": {"candidate": "c", "x": 1}}, "/candidate/x", "not a field"),
        (
            {"type": "candidate", "to": "p1", "candidate": {"candidate": "c", "sdpMLineIndex": -1}},
            "/candidate/sdpMLineIndex",
            "at least 0",
        ),
        ({"type": "state", "audio": None}, "/audio", "must be boolean, not null"),
        ({"type": "state", "id": 1}, "", "at least one of 'audio', 'video'"),
        ({"type": "ping", "id": True}, "/id", "must be integer or string, not boolean"),
        ({"type": "ping", "id": "x" * 65}, "/id", "longer than 64"),
        ({"type": "leave", "reason": "bye"}, "/reason", "not a field of this message"),
        ({"type": None}, "/type", "must be string, not null"),
        ({}, "/type", "is required"),
        ("offer", "", "not string"),
        (None, "", "not null"),
    ],
)
def test_invalid_messages_name_the_path_and_the_rule(message: Any, path: str, words: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        PARSER.validate(message)
    assert caught.value.code == "invalid_message"
    assert caught.value.path == path
    assert words in caught.value.detail


def test_unknown_and_server_only_types() -> None:
    with pytest.raises(UnknownType) as caught:
        PARSER.validate({"type": "hello"})
    assert caught.value.code == "unknown_type" and caught.value.path == "/type"
    assert "expected one of: answer, candidate, leave, offer, ping, refresh-ice, state" in caught.value.detail
    for kind in ("welcome", "dojo", "chat", "peer-left"):
        with pytest.raises(UnknownType, match="sent by the server only"):
            PARSER.validate({"type": kind})
    with pytest.raises(UnknownType) as caught:
        PARSER.validate({"type": "x" * 5000})
    assert len(caught.value.detail) < 200


def test_errors_never_echo_the_offending_value() -> None:
    secret_sdp = "s3cr3t" * 100
    with pytest.raises(InvalidMessage) as caught:
        PARSER.validate({"type": "offer", "to": 1, "sdp": secret_sdp, "junk": secret_sdp})
    assert "s3cr3t" not in caught.value.detail
    assert "more problem" in caught.value.detail


def test_size_limits() -> None:
    small = MessageParser(4096)
    with pytest.raises(MessageTooLarge) as caught:
        small.parse(orjson.dumps({"type": "offer", "to": "p1", "sdp": "x" * 5000}))
    assert caught.value.code == "message_too_large"
    assert "4096" in caught.value.detail and "3072" in caught.value.detail
    with pytest.raises(InvalidMessage) as near:
        small.parse(orjson.dumps({"type": "offer", "to": "p1", "sdp": "x" * 3500}))
    assert near.value.path == "/sdp" and "longer than 3072 characters" in near.value.detail
    # The limit is in bytes on the wire: multi-byte characters count as such.
    with pytest.raises(MessageTooLarge):
        small.parse(orjson.dumps({"type": "offer", "to": "p1", "sdp": "é" * 2100}).decode())


@pytest.mark.parametrize("data", [b"{", b"\xff\xfe", "", b'{"type": "ping"} trailing'])
def test_not_json(data: str | bytes) -> None:
    with pytest.raises(InvalidJson) as caught:
        PARSER.parse(data)
    assert caught.value.code == "invalid_json" and caught.value.path is None
