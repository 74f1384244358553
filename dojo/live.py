"""Dojos on a running node: who is connected, what they may do right now, and the randori timer.

Theory of operation.
- PostgreSQL holds a dojo's truth (`dojo.sessions`); every change bumps its `version`. The node that
  makes a change applies the new state locally at once and publishes a small event
  (`{kind, tenant, dojo, version}`) to every node through Redis pub/sub (in-process without Redis).
- A node *follows* the dojos its connections are in: it keeps the newest state it has seen, and
  applies each newer one to its open connections — a collab connection becomes read-only or
  writable (checked per message by the room, so it takes effect on the next frame), a kicked user's
  sockets get permission-denied and close 4403, an ended dojo's sockets close 4404 — and sends the
  state to the dojo's signaling sockets (`{"type": "dojo", ...}`), where clients read roles, settings
  and the randori timer. Chat messages travel the same way, carried in the event.
- An event names a version; a node that sees a newer version than it holds re-reads the state from
  PostgreSQL (so events stay small and a lost one costs nothing but time): pub/sub may drop events
  on a reconnection, which is reported as a gap and answered by re-reading every followed dojo; a
  periodic refresh does the same as a safety net.
- The randori timer is a deadline in the session row (`randori_next_at`). Every node following the
  dojo arms a local timer for it; when they fire, a conditional update in one transaction lets
  exactly one node pass the driver role on (`DojoSessions.rotate`). A node restart loses nothing:
  the deadline is in PostgreSQL, and the first node a client reconnects to re-arms it (firing at
  once if the deadline passed meanwhile).
- The same object is the collab/signaling authorizer: a room whose name is a dojo id of the
  caller's tenant follows the dojo's rules (joining on first connect; refusals with a reason),
  any other room is a plain room of the tenant.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from crdt.channel import Channel, CloseCode, Outbound
from crdt.protocol import encode_permission_denied
from dojo.access import Access, Authorizer, Connecting, Refused, TenantMembers, check_room
from dojo.docstore import room_key
from dojo.events import DojoEvent, EventKind
from dojo.metrics import DOJO_EVENTS, DOJOS_FOLLOWED, PARTICIPANTS_CONNECTED
from dojo.model import Dojo, Membership, Role
from dojo.sessions import DojoSessions, Gone, InLobby
from runtime.auth import TokenError
from runtime.errors import Conflict, Forbidden, NotFound, ServiceUnavailable
from runtime.supervisor import Policy, Supervisor

log = logging.getLogger("dojo.live")

OBSERVER = "observer"
NOT_THE_DRIVER = "not the driver"
READ_ONLY_CONNECTION = "read-only connection"
"""The reasons of the permission-denied message a read-only collab connection gets for a dropped edit."""


class PeerLike(Protocol):
    """A signaling connection as `signaling`'s hub exposes it (this node only)."""

    @property
    def user_id(self) -> str: ...

    def send_json(self, message: dict[str, Any]) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class EventBus(Protocol):
    """Events and presence across nodes (`dojo.redis_events.RedisDojoEvents`)."""

    node_id: str

    async def on_events(self, handler: Callable[[DojoEvent], None], gap: Callable[[], None]) -> None: ...

    async def publish(self, event: DojoEvent) -> None: ...

    async def mark_present(self, room: str, users: Iterable[str], ttl: float) -> None: ...

    async def mark_absent(self, room: str, users: Iterable[str]) -> None: ...

    async def present(self, room: str) -> set[str]: ...


PeersOf = Callable[[str], Iterable[PeerLike]]


class RoomLike(Protocol):
    """What dojos need of a collab room (`crdt.Room`): changing a connection's rights."""

    def set_readonly(self, channel: Channel, readonly: bool) -> bool: ...


@dataclass
class _Conn:
    user_id: str
    forced_readonly: bool
    expiry: asyncio.TimerHandle | None = None
    tenant_id: str = ""
    session_id: str | None = None
    told: str | None = None
    """The read-only reason this connection was last sent (permission-denied); None while it may write."""


class Accounts(Protocol):
    """The current-account check (`runtime.auth.CurrentPrincipals`): raises `TokenError` when gone."""

    async def current_roles(self, tenant_id: str, user_id: str, session_id: str | None) -> frozenset[str]: ...


class DojoLive(Authorizer):
    def __init__(
        self,
        sessions: DojoSessions,
        *,
        bus: EventBus | None,
        peers_of: PeersOf,
        room_of: Callable[[str], RoomLike | None],
        refresh_seconds: float = 5.0,
        accounts: Accounts | None = None,
    ) -> None:
        self._accounts = accounts
        self._room_of = room_of
        self._sessions = sessions
        self._bus = bus
        self._node = bus.node_id if bus is not None else "local"
        self._peers_of = peers_of
        self._refresh_seconds = refresh_seconds
        self._plain = TenantMembers()
        self._channels: dict[str, dict[Channel, _Conn]] = {}
        self._authors: dict[tuple[str, int], str] = {}  # (room key, connection key) -> user id
        self._dojos: dict[str, Dojo] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._supervisor = Supervisor("dojo-live")

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def __aenter__(self) -> DojoLive:
        if self._bus is not None:
            await self._bus.on_events(self._on_event, self._on_gap)
        self._supervisor.start("dojo-refresh", self._refresh_loop, policy=Policy.RESTART)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        await self._supervisor.aclose()

    # -- authorizer --------------------------------------------------------------------------------------
    async def authorize(self, who: Connecting) -> Access:
        check_room(who.room)  # entry points check too; a second spelling of a dojo id never gets here
        dojo = await self._sessions.find(who.tenant_id, who.room)
        if dojo is None:
            return await self._plain.authorize(who)
        if not dojo.active:
            raise Refused(CloseCode.NOT_FOUND, "the dojo has ended")
        if not dojo.may_connect(who.user_id):
            try:
                dojo = await self._sessions.join(who.tenant_id, who.room, who.user_id)
            except Gone as exc:
                raise Refused(CloseCode.NOT_FOUND, "the dojo has ended") from exc
            except InLobby as exc:
                raise Refused(CloseCode.FORBIDDEN, "waiting in the lobby for the host to admit you") from exc
            except (Forbidden, Conflict, NotFound) as exc:
                raise Refused(CloseCode.FORBIDDEN, exc.detail) from exc
            await self._announce(dojo, "joined")
        self.apply(dojo, "follow")
        if who.readonly_requested or not dojo.can_edit(who.user_id):
            return Access.READ_ONLY
        return Access.READ_WRITE

    # -- collab connections (the endpoint's watcher: every room, plain ones included) ------------------
    def attached(self, key: str, who: Connecting, channel: Channel) -> None:
        conns = self._channels.setdefault(key, {})
        self._authors[key, channel.key] = who.user_id
        conn = conns[channel] = _Conn(
            who.user_id, who.readonly_requested, tenant_id=who.tenant_id, session_id=who.session_id
        )
        if who.expires_at is not None:
            # A connection opened with an access token lasts as long as the token (ARCHITECTURE §4).
            delay = max(0.0, who.expires_at - time.time())
            conn.expiry = asyncio.get_running_loop().call_later(
                delay, _refuse, channel, CloseCode.UNAUTHORIZED, "the access token has expired"
            )
        dojo = self._dojos.get(key)
        if dojo is not None:
            PARTICIPANTS_CONNECTED.inc()
            # The state may have changed between authorization and now: enforce the newest.
            self._enforce(dojo, channel, conns[channel])
            self._presence_changed(key, who.user_id)

    def detached(self, key: str, channel: Channel) -> None:
        conns = self._channels.get(key)
        conn = None if conns is None else conns.pop(channel, None)
        if conns is None or conn is None:
            return
        self._authors.pop((key, channel.key), None)
        if conn.expiry is not None:
            conn.expiry.cancel()
        if not conns:
            del self._channels[key]
        if key in self._dojos:
            PARTICIPANTS_CONNECTED.dec()
            self._presence_changed(key, conn.user_id)

    def author_of(self, key: str, channel_key: int) -> str | None:
        """The user of the open collab connection `channel_key` in room `key` (None if it is not open here)."""
        return self._authors.get((key, channel_key))

    def write_refused(self, key: str, channel: Channel) -> None:
        """The room dropped a document update of this read-only connection: tell the client why with the
        y-websocket auth message (permission-denied + reason), once per reason while it stays read-only
        (not per dropped frame). The connection stays open: the editor turns read-only; when it may write
        again the server sends it sync step 1 and the dojo event on the signaling socket says so."""
        conn = self._channels.get(key, {}).get(channel)
        if conn is None:
            return
        reason = self._readonly_reason(key, conn)
        if conn.told == reason:
            return
        conn.told = reason
        channel.send(Outbound(encode_permission_denied(reason)))

    def _readonly_reason(self, key: str, conn: _Conn) -> str:
        dojo = self._dojos.get(key)
        if conn.forced_readonly or dojo is None:
            return READ_ONLY_CONNECTION
        participant = dojo.participant(conn.user_id)
        if participant is not None and participant.role is Role.OBSERVER:
            return OBSERVER
        if dojo.randori is not None and dojo.driver != conn.user_id:
            return NOT_THE_DRIVER
        return READ_ONLY_CONNECTION

    def _here(self, key: str) -> set[str]:
        """The users with an open collab or signaling connection to `key` on this node."""
        users = {conn.user_id for conn in self._channels.get(key, {}).values()}
        users.update(peer.user_id for peer in self._peers_of(key))
        return users

    async def online(self, tenant_id: str, dojo_id: str) -> set[str]:
        """The users with an open collab or signaling connection to the dojo now, on any node: this node's
        own connections, plus what the other nodes recorded in Redis (their entries live
        `3 × refresh_seconds` unless renewed, so a dead node's users go offline within that time). Without
        Redis, or while it is unreachable, this node's alone."""
        key = room_key(tenant_id, dojo_id)
        users = self._here(key)
        if self._bus is not None:
            try:
                users |= await self._bus.present(key)
            except Exception:
                log.warning("presence on other nodes unknown: redis is unreachable", exc_info=True)
        return users

    def _presence_changed(self, key: str, user_id: str) -> None:
        """Record in Redis whether `user_id` still has a connection to dojo `key` on this node."""
        if self._bus is not None and key in self._dojos:
            if user_id in self._here(key):
                self._spawn(self._share_presence(key, {user_id}, present=True), "presence")
            else:
                self._spawn(self._share_presence(key, {user_id}, present=False), "presence")

    async def _share_presence(self, key: str, users: set[str], *, present: bool) -> None:
        assert self._bus is not None
        try:
            if present:
                await self._bus.mark_present(key, users, 3 * self._refresh_seconds)
            else:
                await self._bus.mark_absent(key, users)
        except Exception:
            # Renewed at the next refresh (present), or expires by itself within 3 × refresh_seconds.
            log.warning("presence not shared: redis is unreachable", exc_info=True)

    def peer_left(self, key: str, peer: PeerLike) -> None:
        """A signaling socket left `key` (the hub no longer lists it)."""
        self._presence_changed(key, peer.user_id)

    def peer_joined(self, key: str, peer: PeerLike) -> None:
        """A signaling socket joined `key`: send it the dojo's current state (after its welcome)."""
        dojo = self._dojos.get(key)
        if dojo is None:
            return
        if not dojo.active:
            peer.close(CloseCode.NOT_FOUND, "the dojo has ended")
        elif not dojo.may_connect(peer.user_id):
            peer.close(CloseCode.FORBIDDEN, _refusal(dojo, peer.user_id))
        else:
            peer.send_json({"type": "dojo", "reason": "welcome", "dojo": dojo.to_json()})
            self._presence_changed(key, peer.user_id)

    def state(self, tenant_id: str, dojo_id: str) -> Dojo | None:
        return self._dojos.get(room_key(tenant_id, dojo_id))

    # -- changes ---------------------------------------------------------------------------------------
    async def changed(self, dojo: Dojo, reason: str) -> None:
        """A change this node made: apply it here now, then tell the other nodes."""
        self.apply(dojo, reason)
        await self._announce(dojo, reason)

    async def chat(self, tenant_id: str, dojo_id: str, message: dict[str, Any]) -> None:
        """Deliver a stored chat message to the dojo's signaling sockets on every node."""
        self._deliver_chat(room_key(tenant_id, dojo_id), message)
        await self._publish(DojoEvent(EventKind.CHAT, self._node, tenant_id, dojo_id, 0, message=message))

    async def _announce(self, dojo: Dojo, reason: str) -> None:
        await self._publish(DojoEvent(EventKind.STATE, self._node, dojo.tenant_id, dojo.id, dojo.version, reason))

    async def _publish(self, event: DojoEvent) -> None:
        if self._bus is None:
            return
        try:
            await self._bus.publish(event)
            DOJO_EVENTS.labels(event.kind.value, "sent").inc()
        except Exception:
            # Other nodes catch up at their next refresh (≤ refresh_seconds); the change is stored.
            DOJO_EVENTS.labels(event.kind.value, "failed").inc()
            log.warning("dojo event not published; other nodes will catch up", exc_info=True)

    def apply(self, dojo: Dojo, reason: str) -> None:
        """Make this node's connections follow `dojo` (if it is newer than what we hold)."""
        key = room_key(dojo.tenant_id, dojo.id)
        held = self._dojos.get(key)
        if held is not None and held.version >= dojo.version:
            return
        if held is None:
            DOJOS_FOLLOWED.inc()
            PARTICIPANTS_CONNECTED.inc(len(self._channels.get(key, {})))
        self._dojos[key] = dojo
        for channel, conn in list(self._channels.get(key, {}).items()):
            self._enforce(dojo, channel, conn)
        message = {"type": "dojo", "reason": reason, "dojo": dojo.to_json()}
        for peer in list(self._peers_of(key)):
            if not dojo.active:
                peer.send_json(message)
                peer.close(CloseCode.NOT_FOUND, "the dojo has ended")
            elif not dojo.may_connect(peer.user_id):
                peer.close(CloseCode.FORBIDDEN, _refusal(dojo, peer.user_id))
            elif reason != "follow" or held is None:
                peer.send_json(message)
        self._arm(key, dojo)
        if not dojo.active:
            self._unfollow(key)

    def _enforce(self, dojo: Dojo, channel: Channel, conn: _Conn) -> None:
        if not dojo.active:
            _refuse(channel, CloseCode.NOT_FOUND, "the dojo has ended")
        elif not dojo.may_connect(conn.user_id):
            _refuse(channel, CloseCode.FORBIDDEN, _refusal(dojo, conn.user_id))
        else:
            readonly = conn.forced_readonly or not dojo.can_edit(conn.user_id)
            room = self._room_of(room_key(dojo.tenant_id, dojo.id))
            if room is None:
                # Attached connections are in their room, which stays loaded while they are.
                log.error("dojo %s: connection %s has no room; rights unchanged", dojo.id, channel.key)
                return
            # Allowed to write again, the room resyncs the client (it asks for what it lacks).
            room.set_readonly(channel, readonly)
            if not readonly:
                conn.told = None

    def _unfollow(self, key: str) -> None:
        if self._dojos.pop(key, None) is not None:
            DOJOS_FOLLOWED.dec()
            PARTICIPANTS_CONNECTED.dec(len(self._channels.get(key, {})))
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    # -- randori timer ---------------------------------------------------------------------------------
    def _arm(self, key: str, dojo: Dojo) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()
        if dojo.randori is None or not dojo.active:
            return
        due = dojo.randori.next_at
        delay = max(0.0, (due - datetime.now(UTC)).total_seconds())
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(delay, self._fire_due, key, dojo.tenant_id, dojo.id, due)

    def _fire_due(self, key: str, tenant_id: str, dojo_id: str, due: datetime) -> None:
        self._spawn(self._fire(key, tenant_id, dojo_id, due), "randori")

    async def _fire(self, key: str, tenant_id: str, dojo_id: str, due: datetime) -> None:
        self._timers.pop(key, None)
        rotated = await self._sessions.rotate(tenant_id, dojo_id, due)
        if rotated is not None:
            log.info("randori rotation", extra={"dojo": dojo_id, "driver": rotated.driver})
            await self.changed(rotated, "randori")
            return
        # Another node rotated (its event is on the way), or the deadline moved, or our clock runs
        # ahead of the database's: re-read, and re-arm no sooner than a moment from now.
        await asyncio.sleep(0.25)
        current = await self._sessions.find(tenant_id, dojo_id)
        if current is not None and key in self._dojos:
            self.apply(current, "randori")
            if key not in self._timers:
                self._arm(key, current)

    # -- other nodes -----------------------------------------------------------------------------------
    def _on_event(self, event: DojoEvent) -> None:
        if event.node == self._node:
            return
        key = room_key(event.tenant_id, event.dojo_id)
        DOJO_EVENTS.labels(event.kind.value, "received").inc()
        if event.kind is EventKind.CHAT and event.message is not None:
            self._deliver_chat(key, event.message)
        held = self._dojos.get(key)
        if event.kind is EventKind.STATE and held is not None and held.version < event.version:
            self._spawn(self._reload(event.tenant_id, event.dojo_id, event.reason), "reload")

    def _on_gap(self) -> None:
        for dojo in list(self._dojos.values()):
            self._spawn(self._reload(dojo.tenant_id, dojo.id, "resync"), "reload")

    async def _reload(self, tenant_id: str, dojo_id: str, reason: str) -> None:
        dojo = await self._sessions.find(tenant_id, dojo_id)
        if dojo is not None and room_key(tenant_id, dojo_id) in self._dojos:
            self.apply(dojo, reason)

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self._recheck_accounts()
            except ServiceUnavailable:
                log.warning("accounts of open connections not re-checked: identity's records are unreachable")
            for key, dojo in list(self._dojos.items()):
                if not self._channels.get(key) and not list(self._peers_of(key)):
                    self._unfollow(key)
                    continue
                if self._bus is not None:
                    await self._share_presence(key, self._here(key), present=True)
                try:
                    await self._reload(dojo.tenant_id, dojo.id, "refresh")
                except Exception:
                    log.exception("refreshing dojo %s failed", dojo.id)

    async def _recheck_accounts(self) -> None:
        """Close (4401) the collab connections whose account was deleted or whose sign-in was revoked
        since they opened: checked every `refresh_seconds`, each (account, sign-in) once per pass
        through the short-lived memo of current principals (signaling sockets are not re-checked)."""
        if self._accounts is None:
            return
        verdicts: dict[tuple[str, str, str | None], str | None] = {}
        for conns in list(self._channels.values()):
            for channel, conn in list(conns.items()):
                if conn.session_id is None:
                    continue  # a ticket minted with the shared secret alone (`dojo.access.authenticate`)
                who = (conn.tenant_id, conn.user_id, conn.session_id)
                if who not in verdicts:
                    try:
                        await self._accounts.current_roles(*who)
                        verdicts[who] = None
                    except TokenError as exc:
                        verdicts[who] = exc.detail
                reason = verdicts[who]
                if reason is not None:
                    _refuse(channel, CloseCode.UNAUTHORIZED, f"unauthorized: {reason}")

    def _deliver_chat(self, key: str, message: dict[str, Any]) -> None:
        envelope = {"type": "chat", "message": message}
        dojo = self._dojos.get(key)
        for peer in list(self._peers_of(key)):
            if dojo is None or dojo.may_connect(peer.user_id):
                peer.send_json(envelope)

    def _spawn(self, job: Coroutine[Any, Any, None], name: str) -> None:
        """Run a one-off job (a reload, a presence write) under the supervisor: a failure is logged."""
        if self._supervisor.closed:
            job.close()
            log.debug("dojo live is closed; %s not run", name)
            return
        self._supervisor.start(f"dojo-{name}", lambda: job, policy=Policy.ONCE)


def _refusal(dojo: Dojo, user_id: str) -> str:
    participant = dojo.participant(user_id)
    if participant is not None and participant.status is Membership.KICKED:
        return "the host removed you from this dojo"
    return "you are not a participant of this dojo"


def _refuse(channel: Channel, code: CloseCode, reason: str) -> None:
    channel.send(Outbound(encode_permission_denied(reason)))
    channel.close(code, reason)
