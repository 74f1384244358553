"""`GET /v1/collab/{room}`: the y-websocket endpoint (API.md), on either transport.

The upgrade is authenticated and authorized first. A refused client is accepted just long enough to
receive the protocol's permission-denied message and a close code (4401/4403/4404 — y-websocket 3.1
does not reconnect after 44xx), because the client ignores HTTP status codes; a browser Origin
outside the allowlist is refused before the upgrade (HTTP 403).

Then the connection joins its room — namespaced by tenant, so the same name in two tenants is two
documents — through the fast path when the server runs `CollabWebSocketProtocol`, else through the
ASGI adapter below (a bounded queue drained by one writer task per connection).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from crdt.channel import SLOW_CLIENT_REASON, CloseCode, Outbound
from crdt.protocol import encode_permission_denied
from dojo import socket_log
from dojo.access import Access, Authorizer, Connecting, Refused, authenticate, check_room, origin_allowed
from dojo.collab_metrics import COLLAB_CLOSE_CODES
from dojo.collab_tracing import traced_frames
from dojo.docstore import room_key
from dojo.fastpath import FASTPATH_EXTENSION, CollabWebSocketProtocol, FastChannel
from dojo.limits import TokenBucket
from dojo.metrics import count_abnormal_close
from dojo.socket_log import SocketLife
from dojo.tickets import TicketSigner
from dojo.user_connections import Lease, UserConnections
from runtime.auth import Verifier
from runtime.settings import DojoSettings
from runtime.tracing import tracing_enabled

log = logging.getLogger("dojo.collab")


class RoomLike(Protocol):
    def receive(self, channel: Any, data: bytes) -> None: ...


class ConnectionWatcher(Protocol):
    """Told when a connection joins and leaves a room (dojos change live connections' rights)."""

    def attached(self, key: str, who: Connecting, channel: Any) -> None: ...

    def detached(self, key: str, channel: Any) -> None: ...


class ManagerLike(Protocol):
    async def join(self, name: str, channel: Any, *, readonly: bool = False) -> Any: ...

    def leave(self, room: Any, channel: Any, code: int | None = None, reason: str = "") -> None: ...


@dataclass
class CollabEndpoint:
    """Everything the endpoint needs, built by the app's startup."""

    settings: DojoSettings
    verifier: Verifier
    tickets: TicketSigner
    manager: ManagerLike
    authorizer: Authorizer
    connections: UserConnections
    watcher: ConnectionWatcher | None = None
    node_id: str = ""
    """This node's name in the spans of the collab path (`dojo.collab_tracing`)."""

    async def __call__(self, websocket: WebSocket) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in websocket.scope["headers"]}
        room = websocket.path_params["room"]
        if not origin_allowed(headers, self.settings.allowed_origins):
            socket_log.refused("collab", room, CloseCode.FORBIDDEN, "origin not allowed")
            await websocket.close(code=CloseCode.FORBIDDEN)  # before accept: HTTP 403
            return
        who: Connecting | None = None
        try:
            who = await self._admit(room, headers, dict(websocket.query_params))
            access = await self.authorizer.authorize(who)
            if access is Access.DENIED:
                raise Refused(CloseCode.FORBIDDEN, "forbidden: no access to this room")
            lease = self.connections.acquire(who)
        except Refused as refused:
            count_abnormal_close("collab", refused.code, COLLAB_CLOSE_CODES)
            socket_log.refused(
                "collab",
                room,
                refused.code,
                refused.reason,
                tenant_id=who.tenant_id if who else "",
                user_id=who.user_id if who else "",
            )
            await websocket.accept()
            await websocket.send_bytes(encode_permission_denied(refused.reason))
            await websocket.close(code=refused.code, reason=refused.reason[:120])
            return
        key = room_key(who.tenant_id, room)
        fast = websocket.scope.get("extensions", {}).get(FASTPATH_EXTENSION)
        try:
            await websocket.accept()
        except BaseException:
            lease.release()
            raise
        life = SocketLife(
            "collab", "fast" if isinstance(fast, CollabWebSocketProtocol) else "asgi", room, who.tenant_id, who.user_id
        )
        life.opened()
        if isinstance(fast, CollabWebSocketProtocol):
            await self._run_fast(fast, key, access, who, lease, life)
        else:
            try:
                await self._run_asgi(websocket, key, access, who, life)
            finally:
                lease.release()

    async def _admit(self, room: str, headers: dict[str, str], query: dict[str, str]) -> Connecting:
        check_room(room)
        return await authenticate(
            room=room, headers=headers, query=query, verifier=self.verifier, tickets=self.tickets, purpose="collab"
        )

    def _bucket(self) -> TokenBucket:
        return TokenBucket(self.settings.collab_messages_per_second, self.settings.collab_message_burst)

    async def _run_fast(
        self, proto: CollabWebSocketProtocol, key: str, access: Access, who: Connecting, lease: Lease, life: SocketLife
    ) -> None:
        channel: FastChannel = proto.attach(max_backlog=self.settings.collab_max_backlog_bytes, bucket=self._bucket())
        try:
            room = await self.manager.join(key, channel, readonly=access is Access.READ_ONLY)
        except Exception:
            lease.release()
            log.exception("loading a room failed", extra={"room": key})
            channel.close(CloseCode.INTERNAL_ERROR, "the document could not be loaded; retry")
            life.closed(CloseCode.INTERNAL_ERROR, "the document could not be loaded; retry")
            return
        except BaseException:
            lease.release()
            raise
        manager, watcher = self.manager, self.watcher

        def leave(ch: FastChannel) -> None:
            lease.release()
            if watcher is not None:
                watcher.detached(key, ch)
            manager.leave(room, ch, ch.close_code, ch.close_reason)
            life.closed(ch.close_code, ch.close_reason)

        if watcher is not None:
            watcher.attached(key, who, channel)
        receive = room.receive
        if tracing_enabled():
            receive = traced_frames(receive, key=key, node=self.node_id)
        proto.start(receive, leave)
        # The task ends here: the room drives the connection from now on.

    async def _run_asgi(
        self, websocket: WebSocket, key: str, access: Access, who: Connecting, life: SocketLife
    ) -> None:
        channel = AsgiChannel(websocket, self.settings.collab_max_backlog_bytes)
        writer = asyncio.create_task(channel.write_loop())
        room = None
        try:
            room = await self.manager.join(key, channel, readonly=access is Access.READ_ONLY)
            if self.watcher is not None:
                self.watcher.attached(key, who, channel)
            bucket = self._bucket()
            receive = room.receive
            if tracing_enabled():
                receive = traced_frames(receive, key=key, node=self.node_id)
            while not channel.closed:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    channel.peer_closed(int(message.get("code", CloseCode.NORMAL)), str(message.get("reason") or ""))
                    break
                data = message.get("bytes")
                if data is None:
                    channel.close(CloseCode.UNSUPPORTED_DATA, "text frames are not part of the protocol; send binary")
                elif not bucket.allow():
                    channel.close(CloseCode.TRY_AGAIN_LATER, "message rate limit exceeded")
                else:
                    receive(channel, data)
        except WebSocketDisconnect as exc:
            channel.peer_closed(exc.code, exc.reason or "")
            log.debug("collab client disconnected", extra={"room": key})
        except Exception:
            log.exception("collab connection failed", extra={"room": key})
            channel.close(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            channel.mark_closed()
            if room is not None:
                if self.watcher is not None:
                    self.watcher.detached(key, channel)
                self.manager.leave(room, channel, *channel.ended)
            await writer
            life.closed(*channel.ended)


class AsgiChannel:
    """`crdt.Channel` over a Starlette WebSocket: a bounded queue and one writer task."""

    _next_key = 1 << 40  # distinct from the fast path's keys

    def __init__(self, websocket: WebSocket, max_backlog: int) -> None:
        AsgiChannel._next_key += 1
        self.key = AsgiChannel._next_key
        self._ws = websocket
        self._max_backlog = max_backlog
        self._queue: deque[Outbound] = deque()
        self._queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._close: tuple[int, str] | None = None
        self._peer_close: tuple[int, str] | None = None
        self.closed = False

    @property
    def ended(self) -> tuple[int | None, str]:
        """How the connection ended: the close code and reason either side sent first (ours if we
        closed it), (None, "") if unknown."""
        return self._close or self._peer_close or (None, "")

    def peer_closed(self, code: int, reason: str) -> None:
        """The client closed the connection (or it was lost: 1006)."""
        if self._close is None and self._peer_close is None:
            self._peer_close = (code, reason)

    def send(self, message: Outbound) -> None:
        if self.closed:
            return
        self._queue.append(message)
        self._queued_bytes += len(message)
        if self._queued_bytes > self._max_backlog:
            self.close(CloseCode.TRY_AGAIN_LATER, SLOW_CLIENT_REASON)
            return
        self._wakeup.set()

    def close(self, code: int, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        self._close = (code, reason[:120])
        self._wakeup.set()

    def mark_closed(self) -> None:
        self.closed = True
        self._wakeup.set()

    async def write_loop(self) -> None:
        ws = self._ws
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._queue and self._close is None and ws.application_state == WebSocketState.CONNECTED:
                    message = self._queue.popleft()
                    self._queued_bytes -= len(message)
                    await ws.send_bytes(message.payload)
                if self._close is not None:
                    if ws.application_state == WebSocketState.CONNECTED:
                        await ws.close(code=self._close[0], reason=self._close[1])
                    return
                if self.closed:
                    return
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            # The peer went away mid-write; the receive loop sees the disconnect and leaves the room.
            log.debug("collab writer stopped: %s", type(exc).__name__)
            self.closed = True
