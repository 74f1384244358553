"""Fixtures for the signaling tests.

- `signal_server`: identity + dojo in this process (the dojo tests' `CollabServer`), with STUN/TURN
  settings; `signal_url(...)` builds a ticketed URL for a user of a fresh tenant.
- `cluster`, `redis_server` (re-exported from the cluster harness): a real redis-server and real
  `pocdojo serve dojo` processes, for the cross-node tests.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest

from dojo.tickets import Purpose, TicketSigner
from runtime.settings import Settings
from tests.cluster.conftest import Cluster, Node, cluster, redis_server
from tests.dojo.conftest import TICKET_SECRET, CollabServer

__all__ = ["TURN_SECRET", "Cluster", "Node", "SignalServer", "cluster", "redis_server", "signal_server"]

TURN_SECRET = secrets.token_urlsafe(32)
TURN_URLS = ["turn:turn.test.invalid:3478?transport=udp", "turns:turn.test.invalid:5349?transport=tcp"]
STUN_URLS = ["stun:stun.test.invalid:3478"]
TURN_TTL = 600


def signal_settings(**overrides: Any) -> dict[str, Any]:
    return {
        "turn_secret": TURN_SECRET,
        "turn_urls": TURN_URLS,
        "stun_urls": STUN_URLS,
        "turn_ttl_seconds": TURN_TTL,
        **overrides,
    }


@dataclass
class SignalServer:
    server: CollabServer
    tenant_id: str

    @property
    def signer(self) -> TicketSigner:
        return TicketSigner(TICKET_SECRET.encode(), ttl_seconds=300)

    @property
    def app(self) -> Any:
        return self.server.dojo_app

    @property
    def hub(self) -> Any:
        return self.app.state.signal_hub

    def url(
        self, room: str, user: str = "alice", *, purpose: Purpose = "signal", ticket_room: str | None = None
    ) -> str:
        ticket = self.signer.issue(tenant_id=self.tenant_id, user_id=user, room=ticket_room or room, purpose=purpose)
        return f"ws://127.0.0.1:{self.server.port}/v1/signal/{room}?{urlencode({'ticket': ticket})}"

    def bare_url(self, room: str) -> str:
        return f"ws://127.0.0.1:{self.server.port}/v1/signal/{room}"


@pytest.fixture
def signal_overrides() -> dict[str, Any]:
    """Override in a test module to change the server's settings."""
    return {}


@pytest.fixture
async def signal_server(
    make_settings: Callable[..., Settings], signal_overrides: dict[str, Any]
) -> AsyncIterator[SignalServer]:
    server = CollabServer(make_settings, overrides=signal_settings(**signal_overrides))
    await server.start()
    try:
        yield SignalServer(server, str(uuid.uuid4()))
    finally:
        await server.stop()
