"""The signaling messages as JSON Schemas (data, documented in docs/signaling.md) and the parser
that validates client messages against them with precise, path-carrying errors.

Every message is one JSON object in one websocket frame, with a `type`. Client messages may carry an
`id` (string or integer), echoed as `ref` in the answer or error it causes. Errors never echo the
offending value (an SDP can be 64 KiB): they name the path and the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema_rs
import orjson

from .errors import InvalidJson, InvalidMessage, MessageTooLarge, UnknownType

PEER_ID = {"type": "string", "minLength": 1, "maxLength": 64}
MESSAGE_ID = {"type": ["string", "integer"], "maxLength": 64}
SDP_HEADROOM = 1024
"""Bytes of a maximal message left for everything but the SDP."""

CANDIDATE = {
    "type": ["object", "null"],
    "description": "An RTCIceCandidateInit; null (or an empty `candidate`) means end of candidates.",
    "properties": {
        "candidate": {"type": "string", "maxLength": 2048},
        "sdpMid": {"type": ["string", "null"], "maxLength": 64},
        "sdpMLineIndex": {"type": ["integer", "null"], "minimum": 0, "maximum": 1023},
        "usernameFragment": {"type": ["string", "null"], "maxLength": 256},
    },
    "required": ["candidate"],
    "additionalProperties": False,
}

SERVER_ONLY_TYPES = frozenset(
    {"welcome", "peer-joined", "peer-left", "peer-state", "ice-servers", "pong", "error", "dojo", "chat"}
)


def _message(type_: str, properties: Mapping[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": type_,
        "type": "object",
        "properties": {"type": {"const": type_}, "id": MESSAGE_ID, **properties},
        "required": ["type", *required],
        "additionalProperties": False,
        **extra,
    }


def client_schemas(max_message_bytes: int = 64 * 1024) -> dict[str, dict[str, Any]]:
    """Client → server messages, by type (the SDP limit follows the message limit)."""
    sdp = {"type": "string", "minLength": 1, "maxLength": max(1, max_message_bytes - SDP_HEADROOM)}
    return {
        "offer": _message("offer", {"to": PEER_ID, "sdp": sdp}, ("to", "sdp")),
        "answer": _message("answer", {"to": PEER_ID, "sdp": sdp}, ("to", "sdp")),
        "candidate": _message("candidate", {"to": PEER_ID, "candidate": CANDIDATE}, ("to", "candidate")),
        "state": _message(
            "state",
            {"audio": {"type": "boolean"}, "video": {"type": "boolean"}},
            anyOf=[{"required": ["audio"]}, {"required": ["video"]}],
            description="Microphone (`audio`) and camera (`video`) on/off; at least one of them.",
        ),
        "refresh-ice": _message("refresh-ice", {}),
        "ping": _message("ping", {}),
        "leave": _message("leave", {}),
    }


_PEER = {
    "type": "object",
    "properties": {
        "peer_id": PEER_ID,
        "user_id": {"type": "string"},
        "audio": {"type": "boolean"},
        "video": {"type": "boolean"},
    },
    "required": ["peer_id", "user_id", "audio", "video"],
    "additionalProperties": False,
}
_ICE_SERVER = {
    "type": "object",
    "properties": {
        "urls": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "username": {"type": "string"},
        "credential": {"type": "string"},
    },
    "required": ["urls"],
    "additionalProperties": False,
}
_REF = {"type": ["string", "integer"]}


def _server(type_: str, properties: Mapping[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema = _message(type_, properties, required)
    del schema["properties"]["id"]
    return schema


SERVER_SCHEMAS: dict[str, dict[str, Any]] = {
    "welcome": _server(
        "welcome",
        {
            "peer_id": PEER_ID,
            "user_id": {"type": "string"},
            "peers": {"type": "array", "items": _PEER},
            "ice_servers": {"type": "array", "items": _ICE_SERVER},
            "ice_expires_at": {"type": ["integer", "null"]},
            "limits": {
                "type": "object",
                "properties": {
                    "max_peers": {"type": "integer"},
                    "max_message_bytes": {"type": "integer"},
                    "messages_per_second": {"type": "number"},
                    "message_burst": {"type": "integer"},
                },
                "required": ["max_peers", "max_message_bytes", "messages_per_second", "message_burst"],
                "additionalProperties": False,
            },
        },
        ("peer_id", "user_id", "peers", "ice_servers", "ice_expires_at", "limits"),
    ),
    "peer-joined": _server("peer-joined", {"peer": _PEER}, ("peer",)),
    "peer-left": _server(
        "peer-left",
        {
            "peer_id": PEER_ID,
            "user_id": {"type": "string"},
            "reason": {"enum": ["left", "disconnected", "node-lost", "gone"]},
        },
        ("peer_id", "user_id", "reason"),
    ),
    "peer-state": _server(
        "peer-state",
        {"peer_id": PEER_ID, "user_id": {"type": "string"}, "audio": {"type": "boolean"}, "video": {"type": "boolean"}},
        ("peer_id", "user_id", "audio", "video"),
    ),
    "offer": _server("offer", {"from": PEER_ID, "sdp": {"type": "string"}}, ("from", "sdp")),
    "answer": _server("answer", {"from": PEER_ID, "sdp": {"type": "string"}}, ("from", "sdp")),
    "candidate": _server("candidate", {"from": PEER_ID, "candidate": CANDIDATE}, ("from", "candidate")),
    "ice-servers": _server(
        "ice-servers",
        {"ice_servers": {"type": "array", "items": _ICE_SERVER}, "ice_expires_at": {"type": ["integer", "null"]}},
        ("ice_servers", "ice_expires_at"),
    ),
    "pong": _server("pong", {"ref": _REF}),
    "error": _server(
        "error",
        {
            "code": {"type": "string"},
            "detail": {"type": "string"},
            "path": {"type": "string"},
            "ref": _REF,
        },
        ("code", "detail"),
    ),
    # Pushed by the dojo service (roles, randori timer, kicks, end of the dojo; chat). Their bodies
    # are the dojo service's contract; signaling reserves the types and only checks the envelope.
    "dojo": {"type": "object", "properties": {"type": {"const": "dojo"}}, "required": ["type"]},
    "chat": {"type": "object", "properties": {"type": {"const": "chat"}}, "required": ["type"]},
}


def _pointer(parts: list[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _describe(error: jsonschema_rs.ValidationError, alternatives: list[str]) -> tuple[str, str]:
    """(path, problem) for one schema violation, without echoing the value. `alternatives`: the
    fields an `anyOf` of `required` branches asks for."""
    kind = error.kind
    name = kind.name
    info = kind.as_dict()
    path = _pointer(list(error.instance_path))
    if name == "required":
        missing = str(info.get("property", "")).strip('"')
        return f"{path}/{missing}", "is required"
    if name == "additionalProperties":
        unexpected = [str(p) for p in info.get("unexpected", [])]
        first = unexpected[0] if unexpected else ""
        return f"{path}/{first}", "is not a field of this message"
    if name == "type":
        types = info.get("types", [])
        wanted = " or ".join(str(t) for t in (types if isinstance(types, list) else [types]))
        return path, f"must be {wanted}, not {_json_type(error.instance)}"
    if name == "maxLength":
        return path, f"is longer than {info.get('limit')} characters"
    if name == "minLength":
        return path, f"must have at least {info.get('limit')} character(s)"
    if name == "const":
        return path, f"must be {orjson.dumps(info.get('expected_value')).decode()}"
    if name == "enum":
        return path, f"must be one of {orjson.dumps(info.get('options')).decode()}"
    if name in ("minimum", "maximum"):
        word = "at least" if name == "minimum" else "at most"
        return path, f"must be {word} {info.get('limit')}"
    if name == "anyOf" and alternatives:
        return path, f"must set at least one of {', '.join(repr(a) for a in alternatives)}"
    return path, error.message[:200]


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def message_ref(message: object) -> str | int | None:
    """The client's `id` of a (possibly invalid) message, when it is usable as `ref`."""
    if isinstance(message, dict):
        ref = message.get("id")
        if isinstance(ref, str) and len(ref) <= 64:
            return ref
        if isinstance(ref, int) and not isinstance(ref, bool) and abs(ref) < 2**53:
            return ref
    return None


class MessageParser:
    """Bytes or text of one frame → a validated client message (a dict), or a `ProtocolError`."""

    def __init__(self, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes
        self.schemas = client_schemas(max_message_bytes)
        self._validators = {name: jsonschema_rs.validator_for(schema) for name, schema in self.schemas.items()}
        self._types = ", ".join(sorted(self.schemas))

    def parse(self, data: str | bytes) -> dict[str, Any]:
        return self.validate(self.decode(data))

    def decode(self, data: str | bytes) -> object:
        """The JSON value of a frame (size limit first: nothing larger is parsed)."""
        size = len(data.encode() if isinstance(data, str) else data)
        if size > self.max_message_bytes:
            raise MessageTooLarge(
                f"the message is {size} bytes; the limit is {self.max_message_bytes} bytes "
                f"(an SDP may have at most {self.max_message_bytes - SDP_HEADROOM} characters)"
            )
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidJson(f"not valid JSON: {exc}") from exc

    def validate(self, message: object) -> dict[str, Any]:
        if not isinstance(message, dict):
            raise InvalidMessage(f"a message is a JSON object, not {_json_type(message)}", path="")
        if "type" not in message:
            raise InvalidMessage("/type is required", path="/type")
        kind = message["type"]
        if not isinstance(kind, str):
            raise InvalidMessage(f"/type must be string, not {_json_type(kind)}", path="/type")
        validator = self._validators.get(kind)
        if validator is None:
            shown = kind if len(kind) <= 40 else kind[:40] + "…"
            if kind in SERVER_ONLY_TYPES:
                raise UnknownType(
                    f"{shown!r} is sent by the server only; clients send one of: {self._types}", path="/type"
                )
            raise UnknownType(f"unknown message type {shown!r}; expected one of: {self._types}", path="/type")
        errors = sorted(
            validator.iter_errors(message), key=lambda e: (len(e.instance_path), _pointer(list(e.instance_path)))
        )
        if errors:
            path, problem = _describe(errors[0], self._alternatives(kind, errors[0]))
            more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
            raise InvalidMessage(f"{kind}: {path or '/'} {problem}{more}", path=path)
        return message

    def _alternatives(self, kind: str, error: jsonschema_rs.ValidationError) -> list[str]:
        node: Any = self.schemas[kind]
        for part in error.schema_path:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return []
        if error.kind.name != "anyOf" or not isinstance(node, list):
            return []
        return [str(field) for branch in node if isinstance(branch, dict) for field in branch.get("required", [])]
