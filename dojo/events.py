"""The dojo events nodes send each other (`dojo.live`): small, typed, JSON on the wire.

A `state` event says a dojo changed (its new `version` and the `reason`); a node holding an older
version re-reads the dojo from PostgreSQL. A `chat` event carries a stored chat message. The wire
keys are short (`k`, `n`, `t`, `d`, `v`, `r`, `m`) and stay stable across versions of the service.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import orjson


class EventKind(enum.StrEnum):
    STATE = "state"
    CHAT = "chat"


class MalformedEvent(ValueError):
    """Bytes that are not a dojo event."""


@dataclass(frozen=True, slots=True)
class DojoEvent:
    kind: EventKind
    node: str
    """The node that sent it (a node ignores its own)."""
    tenant_id: str
    dojo_id: str
    version: int
    reason: str = "changed"
    message: dict[str, Any] | None = None
    """The chat message of a `chat` event."""

    def encode(self) -> bytes:
        wire: dict[str, Any] = {"k": self.kind.value, "t": self.tenant_id, "d": self.dojo_id, "v": self.version}
        if self.kind is EventKind.STATE:
            wire["r"] = self.reason
        if self.message is not None:
            wire["m"] = self.message
        wire["n"] = self.node
        return orjson.dumps(wire)

    @classmethod
    def decode(cls, data: bytes) -> DojoEvent:
        """Raises `MalformedEvent`."""
        try:
            wire = orjson.loads(data)
            kind = EventKind(wire["k"])
            message = wire.get("m")
            return cls(
                kind=kind,
                node=str(wire.get("n", "")),
                tenant_id=str(wire["t"]),
                dojo_id=str(wire["d"]),
                version=int(wire["v"]),
                reason=str(wire.get("r", "changed")),
                message=message if isinstance(message, dict) else None,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise MalformedEvent(str(exc)) from exc
