"""How the nodes of a cluster share rooms: the `Backplane` protocol, the events it carries and the
single-node implementation.

A backplane keeps the cluster-wide registry of peers per room (for the peer list and the mesh cap)
and carries room events between nodes: a peer joined, left or changed its mute/camera state, or a
message relayed to a peer on another node. Events carry their origin node: a node applies its own
events directly and ignores their echo (STYLE §5).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson

from .errors import RoomFull
from .peer import PeerInfo

log = logging.getLogger("signaling.backplane")

EventKind = Literal["joined", "left", "state", "relay"]
LeaveReason = Literal["left", "disconnected", "node-lost", "gone"]


@dataclass(frozen=True)
class RoomEvent:
    kind: EventKind
    origin: str
    peer: PeerInfo
    """joined/left/state: the peer concerned; relay: the sender."""
    reason: LeaveReason | None = None
    to: str | None = None
    message: dict[str, Any] | None = None

    def encode(self) -> bytes:
        body: dict[str, Any] = {"k": self.kind, "o": self.origin, "p": orjson.loads(self.peer.to_json())}
        if self.reason is not None:
            body["r"] = self.reason
        if self.to is not None:
            body["t"] = self.to
        if self.message is not None:
            body["m"] = self.message
        return orjson.dumps(body)

    @classmethod
    def decode(cls, data: bytes) -> RoomEvent | None:
        try:
            body = orjson.loads(data)
            peer = PeerInfo.from_json(orjson.dumps(body["p"]))
            kind = body["k"]
            if peer is None or kind not in ("joined", "left", "state", "relay"):
                raise ValueError("not a room event")
            message = body.get("m")
            return cls(
                kind=kind,
                origin=str(body["o"]),
                peer=peer,
                reason=body.get("r"),
                to=body.get("t"),
                message=message if isinstance(message, dict) else None,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            log.warning("signaling: ignoring a malformed room event (%s)", type(exc).__name__)
            return None


class BackplaneListener(Protocol):
    """The hub, as the backplane sees it."""

    def on_event(self, room: str, event: RoomEvent) -> None:
        """An event of another node (or a removal of dead nodes' peers found here)."""

    def on_registry(self, room: str, live: list[PeerInfo]) -> None:
        """The registry's current peers of `room` (periodic reconciliation: pub/sub may drop)."""

    def local_infos(self, room: str) -> list[PeerInfo]:
        """This node's peers of `room`, as they should be registered."""
        ...

    def local_peer_ids(self, room: str) -> set[str]:
        """Every peer of this node that may be registered in `room` (its peers and those joining)."""
        ...


class Backplane(Protocol):
    node_id: str

    def set_listener(self, listener: BackplaneListener) -> None: ...

    async def watch(self, room: str) -> None:
        """Start receiving `room`'s events (before joining it, so none is missed)."""

    def unwatch(self, room: str) -> None: ...

    async def join(self, room: str, peer: PeerInfo, limit: int) -> list[PeerInfo]:
        """Register `peer` unless the room already has `limit` live peers (`RoomFull`); returns the
        peers that were there. `BackplaneUnavailable` when the registry cannot be reached."""
        ...

    def leave(self, room: str, peer: PeerInfo) -> None: ...

    def update(self, room: str, peer: PeerInfo) -> None: ...

    def publish(self, room: str, event: RoomEvent) -> None:
        """Send `event` to the other nodes of `room` (non-blocking; `RelayUnavailable` if it cannot)."""

    async def ping(self) -> None: ...

    async def __aenter__(self) -> Backplane: ...

    async def __aexit__(self, *exc: object) -> None: ...


class InProcessBackplane:
    """A single node: the registry is the hub's own table and there is nobody to publish to."""

    def __init__(self, node_id: str = "local") -> None:
        self.node_id = node_id
        self._listener: BackplaneListener | None = None

    def set_listener(self, listener: BackplaneListener) -> None:
        self._listener = listener

    async def watch(self, room: str) -> None:
        return None

    def unwatch(self, room: str) -> None:
        return None

    async def join(self, room: str, peer: PeerInfo, limit: int) -> list[PeerInfo]:
        present = self._listener.local_infos(room) if self._listener is not None else []
        if len(present) >= limit:
            raise RoomFull(f"room is full ({limit} peers)")
        return present

    def leave(self, room: str, peer: PeerInfo) -> None:
        return None

    def update(self, room: str, peer: PeerInfo) -> None:
        return None

    def publish(self, room: str, event: RoomEvent) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def __aenter__(self) -> InProcessBackplane:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None
