"""`GET /v1/signal/{room}`: the WebRTC signaling websocket of the dojo service (docs/signaling.md).

Wiring contract with `dojo.app`: `signal_hub(settings, link, node_id)` builds the node's `SignalHub`
(Redis backplane when `REDIS_URL` is set, in-process otherwise), which the lifespan starts and keeps on
`DojoServices.signal_hub`; `install_signal_routes(app)` adds the route, which counts its sockets in
`DojoServices.user_connections` (the per-user cap shared with the collab endpoint).

The upgrade is checked like the collab endpoint's: a browser Origin outside the allowlist is refused
before the upgrade (HTTP 403); credentials are an `Authorization: Bearer` token or a `?ticket=` with
purpose "signal"; the service's authorizer (`DojoServices.authorizer`: the dojo rules) decides. A
refused client is accepted just long enough to receive an `error` message and the close code (4400 bad
room name, 4401, 4403, 4404 ended dojo, 4409 room full, 4429 too many connections of this user on this
node, 1013 registry down).
Read-only users (dojo observers) may join calls. Then this module is a thin adapter: frames go to
`SignalHub.receive`, the peer's queue is written by one writer task, and the connection is closed
(4401) when the bearer token expires.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from fastapi import FastAPI
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from crdt.channel import CloseCode
from dojo import socket_log
from dojo.access import Access, Authorizer, Connecting, Refused, authenticate, check_room, origin_allowed
from dojo.docstore import room_key
from dojo.limits import TokenBucket
from dojo.metrics import count_abnormal_close
from dojo.services import services
from dojo.socket_log import SocketLife
from dojo.tickets import TicketSigner
from dojo.user_connections import UserConnections
from runtime.auth import Verifier
from runtime.redis_link import RedisLink
from runtime.settings import DojoSettings
from signaling import (
    Backplane,
    Close,
    HubConfig,
    IceConfig,
    InProcessBackplane,
    Peer,
    PeerGone,
    RedisBackplane,
    Refusal,
    SignalHub,
)
from signaling import metrics as signal_metrics

_SIGNAL_CLOSE_CODES = frozenset({*(int(code) for code in Close), *(int(code) for code in CloseCode)})
"""The close codes this endpoint sends (its own and the shared refusals'): their own label values."""

log = logging.getLogger("dojo.signal")

_ABNORMAL_CLOSURE = 1006
"""RFC 6455: the connection ended without a close frame (never sent on the wire, only reported)."""

_REFUSAL_CODES = {
    CloseCode.BAD_MESSAGE: "bad_request",
    CloseCode.UNAUTHORIZED: "unauthorized",
    CloseCode.FORBIDDEN: "forbidden",
    CloseCode.NOT_FOUND: "not_found",
    CloseCode.TOO_MANY_CONNECTIONS: "too_many_connections",
}


def ice_config(settings: DojoSettings) -> IceConfig:
    secret = settings.turn_secret.get_secret_value().encode() if settings.turn_secret is not None else None
    return IceConfig(
        stun_urls=tuple(settings.stun_urls),
        turn_urls=tuple(settings.turn_urls),
        turn_secret=secret,
        turn_ttl_seconds=settings.turn_ttl_seconds,
    )


def hub_config(settings: DojoSettings) -> HubConfig:
    return HubConfig(
        max_peers=settings.signal_max_peers,
        max_message_bytes=settings.signal_max_message_bytes,
        messages_per_second=settings.signal_messages_per_second,
        message_burst=settings.signal_message_burst,
    )


def signal_hub(settings: DojoSettings, link: RedisLink | None, node_id: str) -> SignalHub:
    """The node's hub (not started: enter it into the lifespan), on `link` (a started Redis link, shared
    with the other clients) or in-process without."""
    backplane: Backplane = RedisBackplane(link, node_id=node_id) if link is not None else InProcessBackplane(node_id)
    return SignalHub(backplane=backplane, ice=ice_config(settings), limiter=TokenBucket, config=hub_config(settings))


def install_signal_routes(app: FastAPI) -> None:
    async def signal_ws(websocket: WebSocket) -> None:
        dojo = services(websocket)
        endpoint = SignalEndpoint(
            settings=dojo.settings,
            verifier=dojo.verifier,
            tickets=dojo.tickets,
            authorizer=dojo.authorizer,
            hub=dojo.signal_hub,
            connections=dojo.user_connections,
            on_joined=dojo.live.peer_joined,
            on_left=dojo.live.peer_left,
        )
        await endpoint(websocket)

    app.router.routes.append(WebSocketRoute("/v1/signal/{room}", signal_ws))


class StarletteSocket:
    """`signaling.Socket` over a Starlette WebSocket: a vanished connection becomes `PeerGone`."""

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket

    async def send_text(self, data: str) -> None:
        if self._ws.application_state != WebSocketState.CONNECTED:
            raise PeerGone("the websocket is closed")
        try:
            await self._ws.send_text(data)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise PeerGone(type(exc).__name__) from exc

    async def close(self, code: int, reason: str) -> None:
        if self._ws.application_state != WebSocketState.CONNECTED:
            raise PeerGone("the websocket is closed")
        try:
            await self._ws.close(code=code, reason=reason)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise PeerGone(type(exc).__name__) from exc


class SignalEndpoint:
    """One signaling connection, from the upgrade to the end (see module doc)."""

    def __init__(
        self,
        *,
        settings: DojoSettings,
        verifier: Verifier,
        tickets: TicketSigner,
        authorizer: Authorizer,
        hub: SignalHub,
        connections: UserConnections,
        on_joined: Callable[[str, Peer], None] | None = None,
        on_left: Callable[[str, Peer], None] | None = None,
    ) -> None:
        self.connections = connections
        self.on_joined = on_joined
        self.on_left = on_left
        self.settings = settings
        self.verifier = verifier
        self.tickets = tickets
        self.authorizer = authorizer
        self.hub = hub

    async def __call__(self, websocket: WebSocket) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in websocket.scope["headers"]}
        room = websocket.path_params["room"]
        if not origin_allowed(headers, self.settings.allowed_origins):
            signal_metrics.REFUSED.labels("origin").inc()
            socket_log.refused("signal", room, CloseCode.FORBIDDEN, "origin not allowed")
            await websocket.close(code=CloseCode.FORBIDDEN)  # before accept: HTTP 403
            return
        who: Connecting | None = None
        try:
            check_room(room)
            who = await authenticate(
                room=room,
                headers=headers,
                query=dict(websocket.query_params),
                verifier=self.verifier,
                tickets=self.tickets,
                purpose="signal",
            )
            access = await self.authorizer.authorize(who)
            if access is Access.DENIED:
                raise Refused(CloseCode.FORBIDDEN, "forbidden: no access to this room")
            lease = self.connections.acquire(who)
        except Refused as refused:
            name = _REFUSAL_CODES.get(refused.code, "refused")
            socket_log.refused(
                "signal",
                room,
                refused.code,
                refused.reason,
                tenant_id=who.tenant_id if who else "",
                user_id=who.user_id if who else "",
            )
            await self._refuse(websocket, int(refused.code), name, refused.reason)
            return
        try:
            await websocket.accept()
            try:
                peer = await self.hub.join(room_key(who.tenant_id, room), who.user_id)
            except Refusal as refusal:
                signal_metrics.REFUSED.labels(refusal.code).inc()
                count_abnormal_close("signal", int(refusal.close_code), _SIGNAL_CLOSE_CODES)
                socket_log.refused(
                    "signal", room, refusal.close_code, refusal.reason, tenant_id=who.tenant_id, user_id=who.user_id
                )
                await websocket.send_json({"type": "error", "code": refusal.code, "detail": refusal.reason})
                await websocket.close(code=refusal.close_code, reason=refusal.reason[:120])
                return
            if self.on_joined is not None:
                self.on_joined(room_key(who.tenant_id, room), peer)  # e.g. the dojo's current state
            life = SocketLife("signal", "asgi", room, who.tenant_id, who.user_id)
            life.opened()
            ended: tuple[int | None, str] = (None, "the connection's task was cancelled")
            try:
                ended = await self._run(websocket, peer, who)
            finally:
                life.closed(*ended)
                if self.on_left is not None:
                    self.on_left(room_key(who.tenant_id, room), peer)  # e.g. presence
        finally:
            lease.release()

    async def _refuse(self, websocket: WebSocket, code: int, name: str, reason: str) -> None:
        signal_metrics.REFUSED.labels(name).inc()
        count_abnormal_close("signal", code, _SIGNAL_CLOSE_CODES)
        await websocket.accept()
        await websocket.send_json({"type": "error", "code": name, "detail": reason})
        await websocket.close(code=code, reason=reason[:120])

    async def _run(self, websocket: WebSocket, peer: Peer, who: Connecting) -> tuple[int | None, str]:
        """Serve the peer until either side ends it; returns the close code and reason that ended it."""
        writer = asyncio.create_task(peer.run(StarletteSocket(websocket)), name=f"signal-writer-{peer.peer_id}")
        reader = asyncio.create_task(self._read(websocket, peer), name=f"signal-reader-{peer.peer_id}")
        expiry = None
        if who.expires_at is not None:
            expiry = asyncio.get_running_loop().call_later(
                max(0.0, who.expires_at - time.time()),
                peer.close,
                Close.UNAUTHORIZED,
                "unauthorized: the access token expired; reconnect with a fresh one",
            )
        try:
            # Either the client goes away (reader ends) or the server closes the peer (writer ends
            # after the close frame).
            await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
            # Before `leave` and `finish`: the server closed the peer, else the client went away.
            if peer.close_code is not None:
                ended: tuple[int | None, str] = (peer.close_code, peer.close_reason)
            elif reader.done() and not reader.cancelled() and reader.exception() is None:
                ended = reader.result()
            else:
                ended = (_ABNORMAL_CLOSURE, "the connection is gone")
        finally:
            if expiry is not None:
                expiry.cancel()
            self.hub.leave(peer)
            count_abnormal_close("signal", peer.close_code, _SIGNAL_CLOSE_CODES)
            peer.finish()
            reader.cancel()
            for task in (reader, writer):
                try:
                    await task
                except asyncio.CancelledError:
                    log.debug("signal %s stopped", task.get_name())
        return ended

    async def _read(self, websocket: WebSocket, peer: Peer) -> tuple[int | None, str]:
        """Hand the client's frames to the hub until it goes away; returns its close code and reason (the
        server's own close, when it closed the peer first, is the peer's)."""
        while not peer.closed:
            try:
                message = await websocket.receive()
            except WebSocketDisconnect as exc:
                return exc.code, exc.reason or ""
            except (RuntimeError, OSError) as exc:
                log.debug("signal client gone: %s", type(exc).__name__, extra={"peer": peer.peer_id})
                return _ABNORMAL_CLOSURE, "connection lost"
            if message["type"] == "websocket.disconnect":
                return int(message.get("code", CloseCode.NORMAL)), str(message.get("reason") or "")
            data = message.get("text")
            if data is None:
                data = message.get("bytes")
            if data is None:
                continue
            try:
                self.hub.receive(peer, data)
            except Exception:
                log.exception("signaling message handling failed", extra={"peer": peer.peer_id})
                peer.close(Close.INTERNAL_ERROR, "internal error")
                return Close.INTERNAL_ERROR, "internal error"
        return None, ""
