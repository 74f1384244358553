"""A raw RESP3 connection to Redis for the hot paths: commands pipelined without awaiting each reply, and
pub/sub messages dispatched straight from the socket, on the same connection.

Theory of operation. `RespConnection` is an `asyncio.Protocol`: `data_received` feeds the bytes to a
`hiredis.Reader` (replies parsed in C) and takes every complete reply out at once, so a burst of replies
or published messages costs one callback, not one task wake-up each. Commands are packed with
`hiredis.pack_command`; `send` writes a batch of them in one write and queues one callback per command,
called with its reply in order (a `ResponseError` instance for an error reply, a `ConnectionError`
instance if the connection is lost before the reply). Nothing awaits a reply unless it asks to (`call`).

The connection speaks RESP3 (`HELLO 3`), where a connection that subscribes channels can still send
any command: published messages come as push frames between the replies. `message` pushes go to
`on_message` (channel, data); subscribe and unsubscribe confirmations (pushes too) answer their command,
so subscribe one channel per command. One connection for both means that the reply to a command and
the messages it caused (a script that publishes) arrive in one read. Health is the owner's business:
`ping()` sends a PING and `overdue` says whether the previous one is still unanswered; `reads` counts
the reads that brought bytes (evidence that Redis answers, whatever the command). Flow control
follows the transport: `drain()` waits while its write buffer is over the high-water mark. `abort()`
drops the connection; the owner's `on_lost` is called once, from `connection_lost`, after every queued
callback got its error.

This replaces redis-py's connection on these paths only (its pool, reply callbacks and per-command
timeouts cost more CPU than the work itself); everything else uses redis-py.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

log = logging.getLogger("runtime.resp")

Arg = str | bytes | int
Reply = Callable[[Any], None]
MessageHandler = Callable[[bytes, bytes], None]
LostHandler = Callable[[BaseException | None], None]

__all__ = ["Arg", "RespConnection", "RespError", "open_connection"]


class RespError(RedisConnectionError):
    """The connection could not be opened or set up (refused, wrong password, lost during setup)."""


_pack = cast(Callable[[tuple[Arg, ...]], bytes], hiredis.pack_command)
"""`hiredis.pack_command`, typed as it behaves (its stub types the command as a one-element tuple)."""


def _ignore(reply: Any) -> None:
    """For a command whose reply nobody needs (an unsubscribe)."""


class RespConnection(asyncio.Protocol):
    """One RESP2 connection (see module doc)."""

    def __init__(self, *, on_message: MessageHandler | None, on_lost: LostHandler) -> None:
        self._on_message = on_message
        self._on_lost = on_lost
        self._reader = hiredis.Reader(replyError=ResponseError)
        self._pending: deque[Reply] = deque()
        self._transport: asyncio.Transport | None = None
        self._closed = False
        self._paused = False
        self._drained: asyncio.Future[None] | None = None
        self._idle: asyncio.Future[None] | None = None
        self._ping_pending = False
        self.reads = 0
        """Reads that brought bytes from Redis (replies or messages) since the connection opened."""

    # -- asyncio.Protocol ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        self.reads += 1
        reader = self._reader
        reader.feed(data)
        on_message = self._on_message
        pending = self._pending
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError as exc:
                self.abort(exc)
                return
            if reply is False:
                break
            if type(reply) is hiredis.PushNotification:
                kind = reply[0] if reply else None
                if kind == b"message" and len(reply) == 3:
                    if on_message is not None:
                        try:
                            on_message(reply[1], reply[2])
                        except Exception:
                            log.exception("redis: a message handler failed")
                    continue
                if kind not in (b"subscribe", b"unsubscribe"):
                    continue  # a push this connection did not ask for
            if pending:
                try:
                    pending.popleft()(reply)
                except Exception:  # one caller's bug must not drop the connection and everyone's replies
                    log.exception("redis: a reply callback failed")
            else:
                self.abort(RespError("redis sent a reply to no command"))
                return
        if not pending and self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._transport = None
        lost = RedisConnectionError("the redis connection was lost")
        while self._pending:
            self._pending.popleft()(lost)
        for waiter in (self._drained, self._idle):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        self._on_lost(exc)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- use ---------------------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def writable(self) -> bool:
        """Open, and its write buffer is not full."""
        return not self._closed and not self._paused and self._transport is not None

    @property
    def in_flight(self) -> int:
        """Commands sent and not answered yet."""
        return len(self._pending)

    def send(self, commands: list[tuple[Arg, ...]], replies: list[Reply]) -> None:
        """Write `commands` in one write; `replies[i]` gets the reply to `commands[i]`, in order. On a
        closed connection each gets a `ConnectionError` at once."""
        if self._transport is None or self._closed:
            lost = RedisConnectionError("the redis connection is closed")
            for reply in replies:
                reply(lost)
            return
        self._pending.extend(replies)
        pack = _pack
        self._transport.write(b"".join([pack(command) for command in commands]))

    async def call(self, *command: Arg) -> Any:
        """Send one command and wait for its reply (raises `ResponseError` or `ConnectionError`)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def reply(value: Any) -> None:
            if not future.done():
                future.set_result(value)

        self.send([command], [reply])
        result = await future
        if isinstance(result, Exception):
            raise result
        return result

    def send_ignored(self, *command: Arg) -> None:
        """Send one command whose reply is not needed."""
        self.send([command], [_ignore])

    def ping(self) -> None:
        """Send a PING; `overdue` is true until it is answered."""
        if self._ping_pending:
            return

        def pong(reply: Any) -> None:
            self._ping_pending = False

        self._ping_pending = True
        self.send([("PING",)], [pong])

    @property
    def overdue(self) -> bool:
        """A PING sent by `ping()` is still unanswered."""
        return self._ping_pending

    async def drain(self) -> None:
        """Wait while the transport's write buffer is full (Redis reads slower than we write)."""
        if not self._paused or self._closed:
            return
        if self._drained is None or self._drained.done():
            self._drained = asyncio.get_running_loop().create_future()
        await self._drained

    async def wait_idle(self) -> None:
        """Wait until every command sent has its reply (or the connection is lost)."""
        if not self._pending or self._closed:
            return
        if self._idle is None or self._idle.done():
            self._idle = asyncio.get_running_loop().create_future()
        await self._idle

    def abort(self, exc: BaseException | None = None) -> None:
        """Drop the connection now; queued callbacks get a `ConnectionError`, then `on_lost` runs."""
        self._closed = True
        if self._transport is not None:
            self._transport.abort()


async def open_connection(
    url: str,
    *,
    setup_seconds: float,
    on_lost: LostHandler,
    on_message: MessageHandler | None = None,
) -> RespConnection:
    """Connect to the Redis of `url` (``redis://`` or ``rediss://``, with user/password and database),
    switch to RESP3 and authenticate, and select the database; raises `RespError` if any of it fails
    within `setup_seconds`."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise RespError(f"unsupported redis URL scheme {parts.scheme!r}")
    host = parts.hostname or "localhost"
    port = parts.port or 6379
    context = ssl.create_default_context() if parts.scheme == "rediss" else None
    loop = asyncio.get_running_loop()
    setup_done = False

    def lost(exc: BaseException | None) -> None:
        if setup_done:
            on_lost(exc)

    try:
        async with asyncio.timeout(setup_seconds):
            _, protocol = await loop.create_connection(
                lambda: RespConnection(on_message=on_message, on_lost=lost), host, port, ssl=context
            )
            try:
                auth: tuple[Arg, ...] = ()
                if parts.password is not None:
                    auth = ("AUTH", unquote(parts.username) if parts.username else "default", unquote(parts.password))
                await protocol.call("HELLO", 3, *auth)
                db = parts.path.strip("/")
                if db and db != "0":
                    await protocol.call("SELECT", int(db))
            except BaseException:
                protocol.abort()
                raise
    except (OSError, TimeoutError, RedisConnectionError, ResponseError, ValueError) as exc:
        raise RespError(f"cannot open a redis connection to {host}:{port} ({type(exc).__name__})") from exc
    setup_done = True
    if protocol.closed:
        raise RespError(f"the redis connection to {host}:{port} closed during setup")
    return protocol
