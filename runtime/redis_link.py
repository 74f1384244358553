"""One supervised connection to Redis, shared by small typed clients (document log, dojo events, signaling).

Theory of operation.
- The link owns the redis-py client, one pub/sub connection and a `Supervisor` for its loops. It is
  `connected` while Redis answers; any client call that fails with a connection-level error reports
  it (`lost`), which wakes the monitor.
- Redis is judged by what it answers, not by how late this process reads it. A busy event loop reads a
  reply late: redis-py's timeout then fires although the reply waits in the socket. So a redis-py call
  that times out while the raw connection kept reading from Redis (its `reads` moved on since the call
  began) fails alone and the link stays up (`late_replies` counts them) — up to `MAX_LATE_IN_A_ROW`
  in a row; a timeout with nothing read meanwhile, an unanswered raw ping and a refused or reset
  connection are losses. (Each loss makes every room resynchronize: false ones cost an overloaded
  node the most.)
- The monitor checks health every `health_seconds` while connected (`INFO server`, then every
  client's check hook, then the pub/sub subscriptions), and retries with backoff while Redis is away.
  On each transition to connected, clients' connected hooks get a `Connected` value: `resumed` when
  messages may have been missed since the last connection, `restarted` when Redis is another
  instance (its `run_id` changed: streams and keys were lost).
- One raw connection (`runtime.resp`, RESP3) carries the hot paths beside redis-py's client: the
  `CommandWriter`s, `raw_command`, and pub/sub, whose messages go straight from the socket to the
  handler of their channel (a client subscribes a channel with a handler; the subscriptions are made
  again on every reconnection). Each check pings it; if its previous ping is still unanswered, the
  link is lost.
- Writes: a client opens a `PipelineWriter` for its own operation type; one writer task per writer
  sends queued operations in order, pipelined, and reports each one's result. A `CommandWriter` does
  the same for operations that are one plain command each, on the raw command connection: a batch
  goes out in one write and the writer moves on without waiting for the replies, which report each
  operation in order as they arrive (raw, parsed by hiredis): what the document bus's appends need.
- Close is ordered, like asyncpg's pool: `aclose()` is graceful — the writers drain while Redis is
  reachable (bounded by `drain_seconds`) — and then terminates: the loops are cancelled in reverse
  start order, operations still queued fail, the clients' close hooks run (deregistration), the
  connections close. `terminate()` skips the graceful part.
Nothing blocks the event loop while Redis is away: calls fail fast with `LinkUnavailable`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from runtime.metrics import REDIS_LINK_EVENTS
from runtime.resp import RespConnection, open_connection
from runtime.supervisor import Backoff, Policy, Supervisor

log = logging.getLogger("runtime.redis_link")

DOWN: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    asyncio.TimeoutError,
    RuntimeError,
)
"""A lost or reset connection as redis-py reports it: its own errors, socket errors, and — under uvloop —
a bare RuntimeError when writing to a transport closed underneath it."""

_RETRY = Backoff(initial=0.2, maximum=1.0)

LATE: tuple[type[BaseException], ...] = (RedisTimeoutError, asyncio.TimeoutError)
"""Errors of a reply that did not come in time (as opposed to a refused or reset connection)."""
MAX_LATE_IN_A_ROW = 3
"""Late replies in a row (no successful health check between them) after which the link is lost even
though the raw connection reads: whatever delays them is not only this process."""


@dataclass(frozen=True, slots=True)
class Mark:
    """Where the raw connection's reads stood when a redis-py call began (`RedisLink.mark`)."""

    connection: RespConnection | None
    reads: int


class LinkError(RuntimeError):
    """Base of the link's errors."""


class LinkUnavailable(LinkError):
    """Redis cannot be reached right now (or the link is not started)."""


class LinkOverloaded(LinkUnavailable):
    """A writer's queue is full."""


@dataclass(frozen=True)
class Connected:
    """What a client is told when the link (re)connects."""

    resumed: bool
    """A reconnection after a loss: pub/sub messages and failed writes may be missing."""
    restarted: bool
    """Redis is another instance than before (its `run_id` changed): it lost its data."""


CheckHook = Callable[[aioredis.Redis, bool], Awaitable[None]]
"""Run at every health check with the client and whether the link is reconnecting; raising a
connection error marks the link lost."""
ConnectedHook = Callable[[Connected], None]
CloseHook = Callable[[aioredis.Redis], Awaitable[None]]
Handler = Callable[[bytes], None]


class PipelineOp(Protocol):
    """An operation a `PipelineWriter` sends: exactly one command per operation."""

    async def queue(self, pipe: Pipeline) -> None:
        """Add this operation's single command to `pipe`."""

    def completed(self, result: Any) -> None:
        """Redis answered `result` (an `Exception` for a command error)."""

    def failed(self) -> None:
        """The operation was not sent (Redis unreachable, or the link closed)."""


class CommandOp(Protocol):
    """An operation a `CommandWriter` sends: one plain command, answered with a raw reply."""

    @property
    def command(self) -> tuple[str | bytes | int, ...]:
        """The command and its arguments."""
        ...

    def completed(self, result: Any) -> None:
        """Redis answered `result` (raw, as the parser returns it; a `ResponseError` for a command error)."""

    def failed(self) -> None:
        """The operation was not sent (Redis unreachable, or the link closed)."""


class _Op(Protocol):
    def completed(self, result: Any) -> None: ...

    def failed(self) -> None: ...


Op = TypeVar("Op", bound=_Op)


class _QueueWriter(Generic[Op]):
    """A bounded queue of operations that one task of the link sends in order, in batches."""

    def __init__(self, link: RedisLink, name: str, *, limit: int, batch: int) -> None:
        self.name = name
        self._link = link
        self._queue: asyncio.Queue[Op] = asyncio.Queue(limit)
        self._batch = batch

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def put(self, op: Op) -> None:
        """Queue `op`; raises `LinkUnavailable` while Redis is away and `LinkOverloaded` when full."""
        if not self._link.connected:
            raise LinkUnavailable("redis is unreachable")
        try:
            self._queue.put_nowait(op)
        except asyncio.QueueFull as exc:
            raise LinkOverloaded(f"the {self.name} queue is full") from exc

    async def drain(self, seconds: float) -> bool:
        """Wait (at most `seconds`) until every queued operation was sent or failed; False if some are
        still pending."""
        try:
            async with asyncio.timeout(seconds):
                await self._queue.join()
        except TimeoutError:
            log.warning("%s: %d %s operations not sent at shutdown", self._link.name, self.pending, self.name)
            return False
        return True

    def fail_pending(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait().failed()
            self._queue.task_done()

    async def run(self) -> None:
        client = self._link.client
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._send(client, batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _send(self, client: aioredis.Redis, batch: list[Op]) -> None:
        raise NotImplementedError


class PipelineWriter(_QueueWriter[PipelineOp]):
    """Sends its operations in order, pipelined with redis-py's pipeline."""

    async def _send(self, client: aioredis.Redis, batch: list[PipelineOp]) -> None:
        if not self._link.connected:
            _fail(batch)
            return
        mark = self._link.mark()
        try:
            async with client.pipeline(transaction=False) as pipe:
                for op in batch:
                    await op.queue(pipe)
                results = await pipe.execute(raise_on_error=False)
        except DOWN as exc:
            self._link.failed(exc, mark)
            _fail(batch)
            return
        except BaseException:
            _fail(batch)
            raise
        for op, result in zip(batch, results, strict=True):
            op.completed(result)


class CommandWriter(_QueueWriter[CommandOp]):
    """A `PipelineWriter` for plain commands on the link's raw command connection: each batch is one
    write; the replies (raw) report the operations in order as they arrive, while the next batches go
    out (bounded by the connection's write buffer).

    While nothing waits in its queue and the connection takes writes, an operation skips the queue and
    its task: the operations put during one turn of the event loop go out together in one write at the
    end of it (`loop.call_soon`), or each time `batch` of them are waiting. Nothing is queued while some
    wait for the end of the turn, and nothing skips the queue while it holds some: the order stays the
    order of the puts."""

    def __init__(self, link: RedisLink, name: str, *, limit: int, batch: int) -> None:
        super().__init__(link, name, limit=limit, batch=batch)
        self._soon: list[CommandOp] = []

    @property
    def pending(self) -> int:
        return super().pending + len(self._soon)

    def put(self, op: CommandOp) -> None:
        soon = self._soon
        if soon:
            soon.append(op)
            if len(soon) >= self._batch:
                self._send_soon()  # a full batch goes out now; the end of the turn sends the rest
            return
        conn = self._link.command_connection
        if conn is not None and conn.writable and self._link.connected and not super().pending:
            soon.append(op)
            asyncio.get_running_loop().call_soon(self._send_soon)
            return
        super().put(op)

    def _send_soon(self) -> None:
        batch, self._soon = self._soon, []
        if batch:  # else sent already (by `drain`)
            self._write(batch)

    def fail_pending(self) -> None:
        batch, self._soon = self._soon, []
        _fail(batch)
        super().fail_pending()

    async def _send(self, client: aioredis.Redis, batch: list[CommandOp]) -> None:
        conn = self._write(batch)
        if conn is not None:
            await conn.drain()

    def _write(self, batch: list[CommandOp]) -> RespConnection | None:
        conn = self._link.command_connection
        if conn is None or not self._link.connected:
            _fail(batch)
            return None
        conn.send([op.command for op in batch], [_reporter(op) for op in batch])
        return conn

    async def drain(self, seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        if self._soon:
            self._send_soon()  # its callback may come after this returns
        if not await super().drain(seconds):
            return False
        conn = self._link.command_connection
        if conn is None:
            return True
        try:
            async with asyncio.timeout(max(0.0, deadline - loop.time())):
                await conn.wait_idle()
        except TimeoutError:
            log.warning("%s: %d %s operations not answered at shutdown", self._link.name, conn.in_flight, self.name)
            return False
        return True


def _reporter(op: CommandOp) -> Callable[[Any], None]:
    def report(result: Any) -> None:
        if isinstance(result, RedisConnectionError):
            op.failed()
        else:
            op.completed(result)

    return report


def _fail(batch: Sequence[_Op]) -> None:
    for op in batch:
        op.failed()


W = TypeVar("W", bound=_QueueWriter[Any])


class RedisLink:
    """A supervised connection to Redis (see module doc); an async context manager."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "redis",
        socket_timeout: float = 2.0,
        health_seconds: float = 1.0,
        drain_seconds: float = 2.0,
        stop_seconds: float = 5.0,
    ) -> None:
        self.name = name
        self._url = url
        self._socket_timeout = socket_timeout
        self._health_seconds = health_seconds
        self._drain_seconds = drain_seconds
        self.supervisor = Supervisor(name, shutdown_timeout=stop_seconds)
        self._client: aioredis.Redis | None = None
        self._raw: RespConnection | None = None
        self._connected = False
        self._run_id: str | None = None
        self._down = asyncio.Event()
        self._handlers: dict[bytes, Handler] = {}  # by channel, as messages name it
        self._checks: list[CheckHook] = []
        self._on_connected: list[ConnectedHook] = []
        self._on_close: list[CloseHook] = []
        self._writers: list[_QueueWriter[Any]] = []
        self._jobs: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._started = False
        self.late_replies = 0
        """redis-py calls that timed out while Redis kept answering on the raw connection (not losses)."""
        self._late_in_row = 0

    # -- state --------------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise LinkUnavailable(f"the {self.name} link is not started")
        return self._client

    @property
    def command_connection(self) -> RespConnection | None:
        """The raw command connection (None while there is none: not started, or lost)."""
        conn = self._raw
        return None if conn is None or conn.closed else conn

    def lost(self, exc: BaseException | None) -> None:
        """A call failed at the connection level: mark the link down (the monitor reconnects). The raw
        connection is dropped with it (what waits on it fails now, not at a timeout)."""
        if self._connected:
            log.warning("%s: connection lost (%s)", self.name, f"{type(exc).__name__}: {exc}" if exc else "closed")
            REDIS_LINK_EVENTS.labels(self.name, "lost").inc()
        self._connected = False
        self._down.set()
        if self._raw is not None:
            self._raw.abort()

    def mark(self) -> Mark:
        """Where the raw connection's reads stand now: taken before a redis-py call, for `failed`."""
        raw = self._raw
        if raw is None or raw.closed or not self._connected:
            return Mark(None, 0)
        return Mark(raw, raw.reads)

    def failed(self, exc: BaseException, mark: Mark) -> None:
        """A redis-py call begun at `mark` failed at the connection level: the link is lost, unless the
        reply was only late while the raw connection kept reading from Redis (see module doc)."""
        raw = mark.connection
        if (
            isinstance(exc, LATE)
            and raw is not None
            and raw is self._raw
            and not raw.closed
            and raw.reads > mark.reads
            and self._late_in_row + 1 < MAX_LATE_IN_A_ROW
        ):
            self._late_in_row += 1
            self.late_replies += 1
            REDIS_LINK_EVENTS.labels(self.name, "late").inc()
            log.warning(
                "%s: a reply came later than %.1f s while Redis kept answering (this process is busy): "
                "that call failed, the link stays up (%s)",
                self.name,
                self._socket_timeout,
                type(exc).__name__,
            )
            return
        self.lost(exc)

    async def call(self, fn: Callable[[aioredis.Redis], Awaitable[Any]]) -> Any:
        """Run `fn(client)`; raises `LinkUnavailable` if Redis is away (the link is lost) or answered
        too late (see `failed`)."""
        if not self._connected:
            raise LinkUnavailable("redis is unreachable")
        mark = self.mark()
        try:
            return await fn(self.client)
        except DOWN as exc:
            self.failed(exc, mark)
            why = "redis did not answer in time" if self._connected else "redis is unreachable"
            raise LinkUnavailable(why) from exc

    async def raw_command(self, *args: str | bytes | int) -> Any:
        """Send one command on the raw command connection and return its reply raw (as hiredis parses
        it: bytes, lists): for hot paths that parse the reply themselves. Raises `ResponseError` for an
        error reply, a redis `ConnectionError` if the connection is away or lost."""
        conn = self.command_connection
        if conn is None:
            raise RedisConnectionError("the redis command connection is not open")
        return await conn.call(*args)

    async def ping(self) -> None:
        """Readiness: raise unless Redis answers now."""
        await self.call(lambda client: client.ping())

    # -- what clients plug in -----------------------------------------------------------------------------
    def on_check(self, hook: CheckHook) -> None:
        self._checks.append(hook)

    def on_connected(self, hook: ConnectedHook) -> None:
        self._on_connected.append(hook)

    def on_close(self, hook: CloseHook) -> None:
        self._on_close.append(hook)

    def writer(self, name: str, *, limit: int, batch: int) -> PipelineWriter:
        """A new writer (its task starts with the link, or now if it runs)."""
        return self._add_writer(PipelineWriter(self, name, limit=limit, batch=batch))

    def command_writer(self, name: str, *, limit: int, batch: int) -> CommandWriter:
        """A new writer of plain commands (see `CommandWriter`)."""
        writer = CommandWriter(self, name, limit=limit, batch=batch)
        self._add_writer(writer)
        return writer

    def _add_writer(self, writer: W) -> W:
        self._writers.append(writer)
        if self._started:
            self.run(f"writer-{writer.name}", writer.run)
        return writer

    def run(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run a client's loop under the link's supervisor (from the link's start if it is not started
        yet): a crash marks the link lost and restarts it."""
        if not self._started:
            self._jobs.append((name, job))
            return
        self.supervisor.start(f"{self.name}-{name}", job, policy=Policy.RESTART, backoff=_RETRY, on_crash=self.lost)

    async def subscribe(self, channel: str, handler: Handler) -> None:
        """Deliver `channel`'s messages to `handler` (kept across reconnections); raises `LinkUnavailable`
        while Redis is away (the subscription is made at the reconnection)."""
        self._handlers[channel.encode()] = handler
        subscriber = self.command_connection
        if not self._connected or subscriber is None:
            raise LinkUnavailable("redis is unreachable")
        try:
            await subscriber.call("SUBSCRIBE", channel)
        except DOWN as exc:
            self.lost(exc)
            raise LinkUnavailable("redis is unreachable") from exc

    def unsubscribe(self, channel: str) -> None:
        """Stop delivering `channel` (Redis is told in the background unless it is subscribed again)."""
        if self._handlers.pop(channel.encode(), None) is None:
            return
        subscriber = self.command_connection
        if self._connected and subscriber is not None:
            subscriber.send_ignored("UNSUBSCRIBE", channel)

    def _on_message(self, channel: bytes, data: bytes) -> None:
        handler = self._handlers.get(channel)
        if handler is None:
            return  # unsubscribed meanwhile
        try:
            handler(data)
        except Exception:
            log.exception("%s: handling a message of %r failed", self.name, channel)

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def __aenter__(self) -> RedisLink:
        self._client = aioredis.Redis.from_url(
            self._url,
            socket_timeout=self._socket_timeout,
            socket_connect_timeout=2.0,
            health_check_interval=0,
            retry_on_timeout=False,
        )
        await self.check()
        self._started = True
        self.run("monitor", self._monitor)
        for writer in self._writers:
            self.run(f"writer-{writer.name}", writer.run)
        for name, job in self._jobs:
            self.run(name, job)
        self._jobs.clear()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Graceful: let the writers drain (bounded by `drain_seconds` in all), then `terminate`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._drain_seconds
        for writer in self._writers:
            await writer.drain(max(0.0, deadline - loop.time()))
        await self.terminate()

    async def terminate(self) -> None:
        """Stop the loops (reverse start order), fail what is still queued, run the close hooks, close."""
        await self.supervisor.aclose()
        for writer in self._writers:
            writer.fail_pending()
        if self._connected and self._client is not None:
            for hook in reversed(self._on_close):
                try:
                    await hook(self._client)
                except DOWN as exc:
                    log.warning("%s: a close hook could not reach Redis (%s)", self.name, type(exc).__name__)
        self._connected = False
        if self._raw is not None:
            self._raw.abort()
        self._raw = None
        if self._client is not None:
            await self._client.aclose()

    # -- health -------------------------------------------------------------------------------------------
    async def check(self) -> None:
        """Ask Redis; on (re)connection detect a restarted server, run the clients' hooks, resubscribe."""
        client = self.client
        reconnecting = not self._connected
        mark = self.mark()
        try:
            info = await client.info("server")
            run_id = str(info.get("run_id"))
            await self._check_raw()
            for check in self._checks:
                await check(client, reconnecting)
        except DOWN as exc:  # RespError (a raw connection that cannot be opened) is one
            self.failed(exc, mark)
            return
        self._late_in_row = 0
        previous, self._run_id = self._run_id, run_id
        self._connected = True
        self._down.clear()
        if reconnecting:
            resumed = previous is not None
            restarted = resumed and previous != run_id
            if resumed:
                log.info("%s: reconnected%s", self.name, " to a restarted server" if restarted else "")
            event = Connected(resumed=resumed, restarted=restarted)
            for hook in self._on_connected:
                try:
                    hook(event)
                except Exception:
                    log.exception("%s: a connected hook failed", self.name)

    async def _monitor(self) -> None:
        delay = 0.0
        while True:
            if self._connected:
                delay = 0.0
                try:
                    await asyncio.wait_for(self._down.wait(), self._health_seconds)
                except TimeoutError:
                    log.debug("%s: periodic check", self.name)
            await self.check()
            if not self._connected:
                delay = _RETRY.next(delay)
                await asyncio.sleep(delay)

    async def _check_raw(self) -> None:
        """Open the raw connection if it is not open (subscribing every channel again), else ping it;
        if its previous ping is unanswered, it is lost."""
        raw = self._raw
        if raw is not None and not raw.closed:
            if raw.overdue:  # a loss even if it read other replies since: Redis is behind by a whole check
                raise RedisConnectionError("the raw redis connection did not answer its ping")
            raw.ping()
            return
        self._raw = raw = await open_connection(
            self._url, setup_seconds=self._socket_timeout, on_lost=self.lost, on_message=self._on_message
        )
        for channel in list(self._handlers):
            await raw.call("SUBSCRIBE", channel)
