"""The node's signaling hub: rooms of peers, the message handling and the room events.

Theory of operation. A connection adapter (the websocket endpoint) authenticates a user, then calls
`join(room, user)`: the hub registers a peer in the cluster registry (refusing it beyond the mesh
cap), queues the `welcome` (peer id, the peers already there, ICE servers with TURN credentials,
limits) and announces `peer-joined` to the others. Every frame the client sends goes to
`receive(peer, data)`: rate limit, size limit, JSON schema, then the handler of its type — relay
to a named peer (on this node directly, on another through the backplane), mute/camera state,
fresh ICE servers, ping. Protocol errors are answered with an `error` message to the sender only;
too many of them close it (4400), a flood closes it (1013). `leave(peer)` ends it.

Room events (joined/left/state/relay) run through one path whether they come from a local peer or
from another node (`on_event`), tagged with their origin node; events that arrive while a peer of
the room is joining are held back and applied after its welcome, so no client sees a peer-left
before the peer-joined. The backplane's periodic registry snapshot reconciles the room view
(`on_registry`): pub/sub may drop an event, and a dead node never says goodbye.

`local_peers(room)` is the API for the dojo service: the peers of this node in a room, to push its
own `dojo`/`chat` messages or to close one.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from . import metrics
from .backplane import Backplane, LeaveReason, RoomEvent
from .errors import BackplaneUnavailable, InvalidTarget, ProtocolError, RelayUnavailable, UnknownPeer
from .peer import Peer, PeerInfo
from .schema import MessageParser, message_ref
from .status import Close
from .turn import IceConfig

log = logging.getLogger("signaling.hub")


class RateLimiter(Protocol):
    def allow(self) -> bool: ...


LimiterFactory = Callable[[float, int], RateLimiter]
"""`(rate per second, burst) -> limiter` (a token bucket)."""


@dataclass(frozen=True)
class HubConfig:
    max_peers: int = 6
    max_message_bytes: int = 64 * 1024
    messages_per_second: float = 50.0
    message_burst: int = 200
    max_invalid_messages: int = 20
    """Invalid messages a peer may send in a burst before it is closed (4400)..."""
    invalid_messages_per_second: float = 0.5
    """...refilled at this rate."""
    max_backlog_messages: int = 512
    max_backlog_bytes: int = 2 * 1024 * 1024
    reconcile_grace_seconds: float = 3.0
    """A registry snapshot only adds or removes peers whose last event is older than this."""


@dataclass(eq=False)
class _Member:
    peer: Peer
    bucket: RateLimiter
    errors: RateLimiter


@dataclass(eq=False)
class _Room:
    key: str
    local: dict[str, _Member] = field(default_factory=dict)
    remote: dict[str, PeerInfo] = field(default_factory=dict)
    touched: dict[str, float] = field(default_factory=dict)
    """Peer id → when an event last added or removed it (for the reconciliation grace)."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    joining: set[str] = field(default_factory=set)
    """Ids of peers being admitted (registered in the registry, or about to be)."""
    watched: bool = False
    pending: list[RoomEvent] = field(default_factory=list)

    def infos(self) -> list[PeerInfo]:
        return [m.peer.info for m in self.local.values()] + list(self.remote.values())


_RELAYED = {"offer": "sdp", "answer": "sdp", "candidate": "candidate"}
_KNOWN_TYPES = frozenset({*_RELAYED, "state", "refresh-ice", "ping", "leave"})
_OUTCOMES = {
    "invalid_json": "invalid",
    "invalid_message": "invalid",
    "unknown_type": "invalid",
    "invalid_target": "invalid",
    "message_too_large": "too_large",
    "unknown_peer": "unknown_peer",
    "unavailable": "unavailable",
}


class SignalHub:
    """One node's signaling rooms (see module doc); an async context manager (it runs the backplane)."""

    def __init__(
        self, *, backplane: Backplane, ice: IceConfig, limiter: LimiterFactory, config: HubConfig | None = None
    ) -> None:
        self.config = config or HubConfig()
        self.ice = ice
        self._backplane = backplane
        self._limiter = limiter
        self._parser = MessageParser(self.config.max_message_bytes)
        self._rooms: dict[str, _Room] = {}
        self._closing = False
        backplane.set_listener(self)

    @property
    def node_id(self) -> str:
        return self._backplane.node_id

    # -- lifecycle -------------------------------------------------------------------------------------
    async def __aenter__(self) -> SignalHub:
        await self._backplane.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Ordered: refuse new peers, close the remaining ones (1001) and deregister them, then stop
        # the backplane (which sends those last removals first).
        self._closing = True
        for room in list(self._rooms.values()):
            for member in list(room.local.values()):
                member.peer.close(Close.GOING_AWAY, "server shutting down")
                self.leave(member.peer)
        await self._backplane.__aexit__(*exc)

    async def ping(self) -> None:
        """Readiness: raise unless the backplane is reachable."""
        await self._backplane.ping()

    # -- the dojo service's API -----------------------------------------------------------------------------
    def local_peers(self, room: str) -> list[Peer]:
        """This node's peers in `room` (a room key): `.user_id`, `.peer_id`, `.send_json(obj)` and
        `.close(code, reason)`, both non-blocking."""
        found = self._rooms.get(room)
        return [] if found is None else [m.peer for m in found.local.values()]

    def rooms(self) -> list[str]:
        """Rooms with at least one peer on this node."""
        return [key for key, room in self._rooms.items() if room.local]

    # -- joining and leaving -----------------------------------------------------------------------------
    async def join(self, room_key: str, user_id: str) -> Peer:
        """Admit a peer (its `welcome` is queued) or raise a `Refusal` (`RoomFull`, `BackplaneUnavailable`)."""
        if self._closing:
            raise BackplaneUnavailable("this node is shutting down; reconnect")
        info = PeerInfo(peer_id="p" + secrets.token_urlsafe(12), user_id=user_id, node=self.node_id)
        room = self._rooms.get(room_key)
        if room is None:
            room = self._rooms[room_key] = _Room(room_key)
            metrics.ROOMS.inc()
        room.joining.add(info.peer_id)
        try:
            async with room.lock:
                if not room.watched:
                    await self._backplane.watch(room_key)
                    room.watched = True
                present = await self._backplane.join(room_key, info, self.config.max_peers)
                return self._admit(room, info, present)
        finally:
            room.joining.discard(info.peer_id)
            if not room.joining:
                pending, room.pending = room.pending, []
                for event in pending:
                    self._apply(room, event)
            self._drop_if_empty(room)

    def _admit(self, room: _Room, info: PeerInfo, present: list[PeerInfo]) -> Peer:
        now = time.monotonic()
        for other in present:
            if other.node != self.node_id and other.peer_id not in room.remote:
                room.remote[other.peer_id] = other
                room.touched[other.peer_id] = now
        cfg = self.config
        peer = Peer(
            info, room.key, max_backlog_messages=cfg.max_backlog_messages, max_backlog_bytes=cfg.max_backlog_bytes
        )
        others = room.infos()
        peer.known.update(p.peer_id for p in others)
        servers, expires_at = self._ice_for(info.peer_id)
        peer.send_json(
            {
                "type": "welcome",
                "peer_id": info.peer_id,
                "user_id": info.user_id,
                "peers": [p.public() for p in others],
                "ice_servers": servers,
                "ice_expires_at": expires_at,
                "limits": {
                    "max_peers": cfg.max_peers,
                    "max_message_bytes": cfg.max_message_bytes,
                    "messages_per_second": cfg.messages_per_second,
                    "message_burst": cfg.message_burst,
                },
            }
        )
        room.local[info.peer_id] = _Member(
            peer,
            self._limiter(cfg.messages_per_second, cfg.message_burst),
            self._limiter(cfg.invalid_messages_per_second, cfg.max_invalid_messages),
        )
        metrics.PEERS.inc()
        log.info("peer joined", extra={"room": room.key, "peer": info.peer_id, "user_id": info.user_id})
        self._emit(room, RoomEvent("joined", self.node_id, info))
        return peer

    def leave(self, peer: Peer) -> None:
        """The peer's connection ended (idempotent)."""
        room = self._rooms.get(peer.room)
        if room is None or room.local.pop(peer.peer_id, None) is None:
            return
        metrics.PEERS.dec()
        reason: LeaveReason = "left" if peer.said_leave else "disconnected"
        log.info("peer left", extra={"room": room.key, "peer": peer.peer_id, "reason": reason})
        self._backplane.leave(room.key, peer.info)
        self._emit(room, RoomEvent("left", self.node_id, peer.info, reason=reason))
        self._drop_if_empty(room)

    def _drop_if_empty(self, room: _Room) -> None:
        if room.local or room.joining or self._rooms.get(room.key) is not room:
            return
        del self._rooms[room.key]
        metrics.ROOMS.dec()
        if room.watched:
            self._backplane.unwatch(room.key)

    def _ice_for(self, peer_id: str) -> tuple[list[dict[str, Any]], int | None]:
        servers, expires_at = self.ice.servers_for(peer_id)
        if expires_at is not None:
            metrics.TURN_MINTED.inc()
        return servers, expires_at

    # -- client messages --------------------------------------------------------------------------------------
    def receive(self, peer: Peer, data: str | bytes) -> None:
        """One frame from `peer`'s client."""
        room = self._rooms.get(peer.room)
        member = None if room is None else room.local.get(peer.peer_id)
        if room is None or member is None or peer.closed:
            return
        if not member.bucket.allow():
            metrics.MESSAGES.labels("unknown", "rate_limited").inc()
            metrics.REFUSED.labels("rate_limited").inc()
            cfg = self.config
            peer.close(
                Close.TRY_AGAIN_LATER,
                f"message rate limit exceeded ({cfg.messages_per_second:g}/s, burst {cfg.message_burst})",
            )
            return
        raw: object = None
        try:
            raw = self._parser.decode(data)
            message = self._parser.validate(raw)
            kind = str(message["type"])
            outcome = self._handle(room, member, message)
            metrics.MESSAGES.labels(kind, outcome).inc()
        except ProtocolError as error:
            said = raw.get("type") if isinstance(raw, dict) else None
            label = said if isinstance(said, str) and said in _KNOWN_TYPES else "unknown"
            metrics.MESSAGES.labels(label, _OUTCOMES[error.code]).inc()
            self._reject(member, error, message_ref(raw))

    def _reject(self, member: _Member, error: ProtocolError, ref: str | int | None) -> None:
        reply: dict[str, Any] = {"type": "error", "code": error.code, "detail": error.detail}
        if error.path is not None:
            reply["path"] = error.path
        if ref is not None:
            reply["ref"] = ref
        member.peer.send_json(reply)
        if not member.errors.allow():
            metrics.REFUSED.labels("too_many_errors").inc()
            member.peer.close(
                Close.BAD_CLIENT, f"too many invalid messages (more than {self.config.max_invalid_messages})"
            )

    def _handle(self, room: _Room, member: _Member, message: dict[str, Any]) -> str:
        peer = member.peer
        kind = message["type"]
        if kind in _RELAYED:
            return self._relay(room, peer, kind, message)
        if kind == "state":
            peer.info = replace(
                peer.info, audio=message.get("audio", peer.info.audio), video=message.get("video", peer.info.video)
            )
            self._backplane.update(room.key, peer.info)
            self._emit(room, RoomEvent("state", self.node_id, peer.info))
        elif kind == "refresh-ice":
            servers, expires_at = self._ice_for(peer.peer_id)
            peer.send_json({"type": "ice-servers", "ice_servers": servers, "ice_expires_at": expires_at})
        elif kind == "ping":
            pong: dict[str, Any] = {"type": "pong"}
            if "id" in message:
                pong["ref"] = message["id"]
            peer.send_json(pong)
        elif kind == "leave":
            peer.said_leave = True
            peer.close(Close.NORMAL, "left")
        return "handled"

    def _relay(self, room: _Room, peer: Peer, kind: str, message: dict[str, Any]) -> str:
        to = message["to"]
        if to == peer.peer_id:
            raise InvalidTarget(f"{kind}: a peer cannot signal itself", path="/to")
        field_name = _RELAYED[kind]
        out = {"type": kind, "from": peer.peer_id, field_name: message[field_name]}
        target = room.local.get(to)
        if target is not None:
            target.peer.send_json(out)
            return "relayed"
        if to not in room.remote:
            others = sorted(p.peer_id for p in room.infos() if p.peer_id != peer.peer_id)
            listed = f"the peers are: {', '.join(others[:16])}" if others else "you are alone in it"
            raise UnknownPeer(f"{kind}: no peer {to!r} in this room; {listed}", path="/to")
        self._backplane.publish(room.key, RoomEvent("relay", self.node_id, peer.info, to=to, message=out))
        return "relayed"

    # -- room events -------------------------------------------------------------------------------------------
    def _emit(self, room: _Room, event: RoomEvent) -> None:
        """An event of this node: apply it here, and tell the other nodes."""
        self._apply(room, event)
        try:
            self._backplane.publish(room.key, event)
        except RelayUnavailable as exc:
            # The other nodes catch up from the registry when Redis is back (reconciliation).
            log.warning("signaling: %s event not published: %s", event.kind, exc.detail)

    def on_event(self, room: str, event: RoomEvent) -> None:
        found = self._rooms.get(room)
        if found is None:
            return
        if found.joining:
            found.pending.append(event)
            return
        self._apply(found, event)

    def _apply(self, room: _Room, event: RoomEvent) -> None:
        subject = event.peer
        pid = subject.peer_id
        if event.kind == "relay":
            target = room.local.get(event.to or "")
            if target is not None and event.message is not None:
                target.peer.send_json(event.message)
            return
        if event.origin != self.node_id:
            if event.kind == "left":
                room.remote.pop(pid, None)
            elif pid not in room.local:
                room.remote[pid] = subject
            room.touched[pid] = time.monotonic()
        for member in list(room.local.values()):
            peer = member.peer
            if peer.peer_id == pid:
                continue
            if event.kind == "left":
                if pid in peer.known:
                    peer.known.discard(pid)
                    peer.send_json(
                        {
                            "type": "peer-left",
                            "peer_id": pid,
                            "user_id": subject.user_id,
                            "reason": event.reason or "gone",
                        }
                    )
            elif pid not in peer.known:
                peer.known.add(pid)
                peer.send_json({"type": "peer-joined", "peer": subject.public()})
            elif event.kind == "state":
                peer.send_json({"type": "peer-state", **subject.public()})

    def on_registry(self, room: str, live: list[PeerInfo]) -> None:
        """Reconcile this node's view of `room` with the registry (missed or never-sent events)."""
        found = self._rooms.get(room)
        if found is None or found.joining:
            return
        now = time.monotonic()
        grace = self.config.reconcile_grace_seconds

        def settled(pid: str) -> bool:
            return now - found.touched.get(pid, 0.0) > grace

        current = {p.peer_id: p for p in live if p.node != self.node_id}
        for pid, info in list(found.remote.items()):
            if pid not in current and settled(pid):
                log.info("signaling: peer %s is no longer registered in room %s", pid, room)
                self._apply(found, RoomEvent("left", "registry", info, reason="gone"))
        for pid, info in current.items():
            if pid not in found.remote and settled(pid):
                self._apply(found, RoomEvent("joined", "registry", info))

    def local_infos(self, room: str) -> list[PeerInfo]:
        found = self._rooms.get(room)
        return [] if found is None else [m.peer.info for m in found.local.values()]

    def local_peer_ids(self, room: str) -> set[str]:
        found = self._rooms.get(room)
        return set() if found is None else set(found.local) | found.joining
