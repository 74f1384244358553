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

from dojo.services import services_of as dojo_services
from dojo.tickets import Purpose, TicketSigner
from runtime.settings import Settings
from tests.cluster.conftest import Cluster, Node, cluster, redis_server
from tests.dojo.conftest import TICKET_SECRET, CollabServer

__all__ = [
    "SIGNAL_ENV",
    "TURN_SECRET",
    "Cluster",
    "Node",
    "SignalServer",
    "cluster",
    "cluster_signal_url",
    "redis_server",
    "signal_server",
    "start_signal_nodes",
]

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
        return dojo_services(self.app).signal_hub

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


# -- the cluster ----------------------------------------------------------------------------------------
SIGNAL_ENV = {
    "POCDOJO_TURN_SECRET": TURN_SECRET,
    "POCDOJO_TURN_URLS": ",".join(TURN_URLS),
    "POCDOJO_STUN_URLS": ",".join(STUN_URLS),
    "POCDOJO_TURN_TTL_SECONDS": str(TURN_TTL),
}


async def start_signal_nodes(cluster: Cluster, count: int, **settings: str) -> list[Node]:
    nodes = [cluster.node(f"node{len(cluster.nodes) + 1}", settings={**SIGNAL_ENV, **settings}) for _ in range(count)]
    await cluster.start(*nodes)
    return nodes


def cluster_signal_url(cluster: Cluster, node: Node, room: str, user: str) -> str:
    ticket = cluster.signer.issue(tenant_id=cluster.tenant_id, user_id=user, room=room, purpose="signal")
    return f"ws://127.0.0.1:{node.port}/v1/signal/{room}?{urlencode({'ticket': ticket})}"
