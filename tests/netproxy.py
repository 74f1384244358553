"""TCP proxies for fault-injection tests: a link that can be cut and healed, and a round-robin
balancer that skips backends that refuse connections.

    async with TcpProxy(("127.0.0.1", redis_port)) as link:   # point a node's REDIS_URL at link.port
        link.cut()        # every proxied connection is reset now; new ones are accepted and reset
        link.heal()       # new connections are forwarded again
        link.blackhole()  # nothing flows any more (connections stay open, as in a silent partition)
        link.heal()       # ...and flows again, from where it stopped
        link.latency = 0.05  # chunks of connections opened from now on wait 50 ms in each direction

    async with Balancer([("127.0.0.1", a), ("127.0.0.1", b)]) as lb:   # clients connect to lb.port
        ...  # each new connection goes to the next backend that accepts it

Theory of operation. Every accepted connection is a :class:`_Link`: one upstream connection and two
pump tasks (client→upstream, upstream→client) that copy at most ``CHUNK_BYTES`` per read and await
``drain()`` after each write, so at most a few chunks per direction are buffered in the proxy
(asyncio's stream buffer and the transport's high-water mark bound the rest; TCP flow control does
the remainder). With a ``latency``, a pump is a delay line: a feeder task stamps each chunk with its
due time into a queue of at most ``DELAY_LINE_CHUNKS`` chunks, and the pump writes it when due.
A link ends when either side ends: both sockets are closed (or aborted — a cut sends
RSTs, like a crashed peer) and both pumps are awaited. Every task the proxy starts is tracked and
awaited by :meth:`aclose`; nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections.abc import Sequence
from types import TracebackType
from typing import Self

log = logging.getLogger("tests.netproxy")

Address = tuple[str, int]

CHUNK_BYTES = 64 * 1024
DELAY_LINE_CHUNKS = 16  # at most this many chunks wait in a delay line (per direction)
STREAM_LIMIT = 256 * 1024


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close ``writer``'s socket at once with a RST (SO_LINGER 0), like a crashed peer or a cut cable."""
    transport = writer.transport
    if transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # the socket may already be shut down by the peer
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    transport.abort()


class _Link:
    """One proxied connection: client ⇄ upstream."""

    def __init__(
        self, proxy: _ProxyBase, client: tuple[asyncio.StreamReader, asyncio.StreamWriter], backend: Address
    ) -> None:
        self.proxy = proxy
        self.client_reader, self.client_writer = client
        self.backend = backend
        self.peer: Address = client[1].get_extra_info("peername")[:2]
        self.upstream_writer: asyncio.StreamWriter | None = None
        self.pumps: list[asyncio.Task[None]] = []
        self.bytes_up = 0
        self.bytes_down = 0
        self.closed = asyncio.Event()

    async def run(self, upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        reader, writer = upstream
        self.upstream_writer = writer
        self.pumps = [
            asyncio.create_task(self._pump(self.client_reader, writer, up=True), name=f"proxy-up-{self.peer[1]}"),
            asyncio.create_task(self._pump(reader, self.client_writer, up=False), name=f"proxy-down-{self.peer[1]}"),
        ]
        try:
            # Either direction ending ends the link (a half-closed TCP connection is not worth modelling).
            await asyncio.wait(self.pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.close(abort=False)
            for pump in self.pumps:
                pump.cancel()
            for pump in self.pumps:
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
            self.closed.set()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, up: bool) -> None:
        """Copy ``reader`` to ``writer`` until EOF; with a latency, through a bounded delay line."""
        proxy = self.proxy
        if proxy.latency <= 0:
            try:
                while True:
                    await proxy._flowing.wait()  # a blackhole holds the data where it is
                    data = await reader.read(CHUNK_BYTES)
                    if not data:
                        return
                    await self._write(writer, data, up=up)
            except (ConnectionError, OSError) as exc:
                # The other side reset the connection, or we aborted it: the link is over.
                log.debug("proxy link %s: %s", self.peer, type(exc).__name__)
            return
        loop = asyncio.get_running_loop()
        line: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(DELAY_LINE_CHUNKS)

        async def feed() -> None:
            try:
                while True:
                    await proxy._flowing.wait()
                    data = await reader.read(CHUNK_BYTES)
                    await line.put((loop.time() + proxy.latency, data))
                    if not data:
                        return
            except (ConnectionError, OSError) as exc:
                log.debug("proxy link %s: %s", self.peer, type(exc).__name__)
                await line.put((loop.time(), b""))

        feeder = asyncio.create_task(feed(), name=f"proxy-feed-{self.peer[1]}")
        try:
            while True:
                due, data = await line.get()
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                if not data:
                    return
                await self._write(writer, data, up=up)
        except (ConnectionError, OSError) as exc:
            log.debug("proxy link %s: %s", self.peer, type(exc).__name__)
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder

    async def _write(self, writer: asyncio.StreamWriter, data: bytes, *, up: bool) -> None:
        await self.proxy._flowing.wait()
        writer.write(data)
        await writer.drain()
        if up:
            self.bytes_up += len(data)
        else:
            self.bytes_down += len(data)

    def close(self, *, abort: bool) -> None:
        for writer in (self.client_writer, self.upstream_writer):
            if writer is None:
                continue
            if abort:
                _abort(writer)
            else:
                writer.close()


class _ProxyBase:
    """Listens on 127.0.0.1 (a free port) and forwards each connection to a backend chosen by
    :meth:`_connect_upstream`."""

    def __init__(self, *, host: str = "127.0.0.1", connect_timeout: float = 2.0, latency: float = 0.0) -> None:
        self.host = host
        self.latency = latency
        """Seconds every chunk waits in each direction (read when a connection is opened)."""
        self.connect_timeout = connect_timeout
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._refusing = False
        self.accepted = 0
        self.refused = 0

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("already started")
        self._server = await asyncio.start_server(self._accept, self.host, 0, limit=STREAM_LIMIT)
        return self

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop listening, reset every link, and wait for every task this proxy started."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self._flowing.set()  # blackholed pumps must be able to see their sockets close
        for link in list(self._links):
            link.close(abort=True)
        handlers = list(self._handlers)
        if handlers:
            await asyncio.gather(*handlers)
        if server is not None:
            await server.wait_closed()

    # -- the address clients use ------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def address(self) -> Address:
        return (self.host, self.port)

    # -- faults -----------------------------------------------------------------------------
    def cut(self) -> None:
        """Reset every proxied connection now, and reset new ones as soon as they are accepted,
        until :meth:`heal`."""
        self._refusing = True
        self._flowing.set()
        for link in list(self._links):
            link.close(abort=True)

    def blackhole(self) -> None:
        """Stop moving bytes in both directions, keeping every connection open (a silent partition:
        peers notice only through their own timeouts). New connections are accepted and held.
        :meth:`heal` resumes the flow where it stopped (nothing is lost, as with TCP retransmission)."""
        self._flowing.clear()

    def heal(self) -> None:
        """Undo :meth:`cut` or :meth:`blackhole`."""
        self._refusing = False
        self._flowing.set()

    @property
    def is_cut(self) -> bool:
        return self._refusing or not self._flowing.is_set()

    # -- inspection -------------------------------------------------------------------------
    @property
    def links(self) -> list[_Link]:
        return list(self._links)

    def connections_to(self, backend: Address) -> int:
        return sum(link.backend == backend for link in self._links)

    def backend_of(self, client_port: int) -> Address | None:
        """The backend of the open link whose client is 127.0.0.1:``client_port``."""
        for link in self._links:
            if link.peer[1] == client_port:
                return link.backend
        return None

    # -- accepting --------------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # asyncio runs this callback in a task of its own; track it so aclose() can wait for it.
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.accepted += 1
        try:
            if self._refusing:
                self.refused += 1
                _abort(writer)
                return
            await self._flowing.wait()
            if self._refusing or self._server is None:
                self.refused += 1
                _abort(writer)
                return
            upstream = await self._connect_upstream()
            if upstream is None:
                self.refused += 1
                _abort(writer)
                return
            backend, streams = upstream
            link = _Link(self, (reader, writer), backend)
            self._links.add(link)
            try:
                if self._refusing:  # cut while we were connecting
                    link.upstream_writer = streams[1]
                    link.close(abort=True)
                    return
                await link.run(streams)
            finally:
                self._links.discard(link)
        finally:
            self._handlers.discard(task)
            if not writer.transport.is_closing():
                writer.close()

    async def _open(self, backend: Address) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await asyncio.open_connection(*backend, limit=STREAM_LIMIT)
        except (OSError, TimeoutError) as exc:
            log.debug("proxy: backend %s refused: %r", backend, exc)
            return None

    async def _connect_upstream(self) -> tuple[Address, tuple[asyncio.StreamReader, asyncio.StreamWriter]] | None:
        raise NotImplementedError


class TcpProxy(_ProxyBase):
    """A proxy to one ``target`` that can be cut, blackholed and healed (see the module doc)."""

    def __init__(
        self, target: Address, *, host: str = "127.0.0.1", connect_timeout: float = 2.0, latency: float = 0.0
    ) -> None:
        super().__init__(host=host, connect_timeout=connect_timeout, latency=latency)
        self.target = target

    async def _connect_upstream(self) -> tuple[Address, tuple[asyncio.StreamReader, asyncio.StreamWriter]] | None:
        streams = await self._open(self.target)
        return None if streams is None else (self.target, streams)


class Balancer(_ProxyBase):
    """Round-robin over ``backends``: each new connection goes to the next backend in turn that
    accepts it; one that refuses (a dead node) is skipped. A connection no backend accepts is reset."""

    def __init__(
        self,
        backends: Sequence[Address],
        *,
        host: str = "127.0.0.1",
        connect_timeout: float = 2.0,
        latency: float = 0.0,
    ) -> None:
        if not backends:
            raise ValueError("a balancer needs at least one backend")
        super().__init__(host=host, connect_timeout=connect_timeout, latency=latency)
        self.backends = list(backends)
        self._turn = itertools.count()
        self.skipped = 0

    async def _connect_upstream(self) -> tuple[Address, tuple[asyncio.StreamReader, asyncio.StreamWriter]] | None:
        start = next(self._turn)
        n = len(self.backends)
        for offset in range(n):
            backend = self.backends[(start + offset) % n]
            streams = await self._open(backend)
            if streams is not None:
                return backend, streams
            self.skipped += 1
        return None
