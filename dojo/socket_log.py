"""A WebSocket's life as our own log lines (logger `pocdojo.ws`), on every transport.

One INFO line when a socket is accepted into its room (`event: ws.open`), one when it ends (`ws.close`,
with the close code either side sent first and how long it lived), one when it is refused
(`ws.refused`, with the close code the client gets). Each names the endpoint (`collab`, `signal`), the
transport (`fast` for the collab fast path, `asgi` otherwise), the room as the client named it, the
tenant and the user. Never the credential: tickets and tokens stay out of these lines (uvicorn's own
upgrade lines, which carry the query string, are DEBUG: `runtime.logs.QuietUvicornWebSockets`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("pocdojo.ws")


@dataclass
class SocketLife:
    """One accepted socket: `opened()` once, then `closed(code, reason)` once (later calls are ignored)."""

    endpoint: str
    transport: str
    room: str
    tenant_id: str
    user_id: str
    _started: float = field(default_factory=time.monotonic)
    _ended: bool = False

    def _fields(self, event: str) -> dict[str, Any]:
        return {
            "event": event,
            "endpoint": self.endpoint,
            "transport": self.transport,
            "room": self.room,
            "tenant_id": self.tenant_id,
            "user_id": self.user_id,
        }

    def opened(self) -> None:
        log.info("websocket opened", extra=self._fields("ws.open"))

    def closed(self, code: int | None, reason: str = "") -> None:
        if self._ended:
            return
        self._ended = True
        duration_ms = round((time.monotonic() - self._started) * 1000, 1)
        log.info(
            "websocket closed",
            extra={**self._fields("ws.close"), "code": code, "reason": reason, "duration_ms": duration_ms},
        )


def refused(endpoint: str, room: str, code: int, reason: str, *, tenant_id: str = "", user_id: str = "") -> None:
    """A socket turned away before it joined its room (origin, credentials, rights, limits)."""
    fields: dict[str, Any] = {"event": "ws.refused", "endpoint": endpoint, "room": room, "code": code}
    if tenant_id:
        fields["tenant_id"] = tenant_id
    if user_id:
        fields["user_id"] = user_id
    log.info("websocket refused", extra={**fields, "reason": reason})
