"""The dojo service's messages on the signaling socket, as JSON Schemas (README §Realtime dojos).

Signaling reserves the server→client types `dojo` and `chat` and checks only their envelope; their
bodies are this service's contract, defined here and checked by the tests on every message received.
"""

from __future__ import annotations

from typing import Any

_TIME = {"type": "string", "format": "date-time"}
_ID = {"type": "string", "minLength": 1, "maxLength": 64}

PARTICIPANT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "user_id": _ID,
        "role": {"enum": ["driver", "navigator", "observer"]},
        "host": {"type": "boolean"},
        "status": {"enum": ["admitted", "waiting"]},
        "joined_at": _TIME,
        "can_edit": {
            "type": "boolean",
            "description": "Whether this participant's edits apply now (not an observer; the driver in randori).",
        },
    },
    "required": ["user_id", "role", "host", "status", "joined_at", "can_edit"],
    "additionalProperties": False,
}

DOJO: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": _ID,
        "title": {"type": "string"},
        "poc_id": {"type": ["string", "null"]},
        "language": {"type": ["string", "null"]},
        "host_id": _ID,
        "status": {"enum": ["active", "ended"]},
        "settings": {
            "type": "object",
            "properties": {"locked": {"type": "boolean"}, "lobby": {"type": "boolean"}},
            "required": ["locked", "lobby"],
            "additionalProperties": False,
        },
        "randori": {
            "type": "object",
            "properties": {
                "enabled": {"type": "boolean"},
                "interval_seconds": {"type": ["integer", "null"]},
                "driver_id": {"type": ["string", "null"]},
                "next_rotation_at": {"type": ["string", "null"]},
                "round": {"type": "integer"},
            },
            "required": ["enabled", "interval_seconds", "driver_id", "next_rotation_at"],
            "additionalProperties": False,
        },
        "version": {"type": "integer", "minimum": 1},
        "started_at": _TIME,
        "ended_at": {"type": ["string", "null"]},
        "participants": {"type": "array", "items": PARTICIPANT},
    },
    "required": ["id", "title", "host_id", "status", "settings", "randori", "version", "started_at", "participants"],
    "additionalProperties": False,
}

CHAT_MESSAGE: dict[str, Any] = {
    "type": "object",
    "properties": {"id": _ID, "dojo_id": _ID, "user_id": _ID, "text": {"type": "string"}, "sent_at": _TIME},
    "required": ["id", "dojo_id", "user_id", "text", "sent_at"],
    "additionalProperties": False,
}

SERVER_MESSAGES: dict[str, dict[str, Any]] = {
    "dojo": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dojo",
        "description": "The dojo's state after a change (`reason`: joined, role, kick, admit, settings, randori, host, "
        "ended, resync, refresh...).",
        "type": "object",
        "properties": {"type": {"const": "dojo"}, "reason": {"type": "string"}, "dojo": DOJO},
        "required": ["type", "reason", "dojo"],
        "additionalProperties": False,
    },
    "chat": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "chat",
        "description": "A chat message, delivered to every participant's signaling socket (the author's too).",
        "type": "object",
        "properties": {"type": {"const": "chat"}, "message": CHAT_MESSAGE},
        "required": ["type", "message"],
        "additionalProperties": False,
    },
}
