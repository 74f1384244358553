"""The fault-injection proxies of `tests/netproxy.py`, against plain TCP servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from tests.conftest import wait_until
from tests.netproxy import Balancer, TcpProxy


@contextlib.asynccontextmanager
async def echo_server(tag: bytes = b"") -> AsyncIterator[tuple[str, int]]:
    """A server that answers every chunk with ``tag`` + the chunk."""
    handlers: set[asyncio.Task[None]] = set()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            while data := await reader.read(65536):
                writer.write(tag + data)
                await writer.drain()
        except ConnectionError as exc:
            # The proxy reset us: expected in the cut tests; the connection simply ends.
            del exc
        finally:
            writer.close()
            handlers.discard(task)

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    try:
        yield ("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


@contextlib.asynccontextmanager
async def connection(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def roundtrip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> bytes:
    writer.write(data)
    await writer.drain()
    async with asyncio.timeout(5):
        return await reader.read(65536)


async def test_forwards_both_ways_and_leaves_no_task() -> None:
    before = asyncio.all_tasks()
    async with echo_server() as target:
        proxy = await TcpProxy(target).start()
        async with connection(proxy.port) as (reader, writer):
            assert await roundtrip(reader, writer, b"hello") == b"hello"
            assert len(proxy.links) == 1
            assert proxy.links[0].bytes_up == 5
        await wait_until(lambda: not proxy.links, 5, "the link ends with its client")
        await proxy.aclose()
    assert asyncio.all_tasks() - before == set()


async def test_cut_resets_every_connection_and_new_ones_until_healed() -> None:
    async with echo_server() as target, TcpProxy(target) as proxy:
        async with connection(proxy.port) as (reader, writer):
            assert await roundtrip(reader, writer, b"a") == b"a"
            proxy.cut()
            assert proxy.is_cut
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(1), 5)
        async with connection(proxy.port) as (reader, writer):
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(1), 5)
        assert proxy.refused >= 1
        proxy.heal()
        async with connection(proxy.port) as (reader, writer):
            assert await roundtrip(reader, writer, b"back") == b"back"


async def test_blackhole_holds_data_without_closing_and_heal_delivers_it() -> None:
    async with echo_server() as target, TcpProxy(target) as proxy, connection(proxy.port) as (reader, writer):
        assert await roundtrip(reader, writer, b"1") == b"1"
        proxy.blackhole()
        writer.write(b"2")
        await writer.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.5)
        assert not reader.at_eof()
        proxy.heal()
        async with asyncio.timeout(5):
            assert await reader.read(1) == b"2"


async def test_latency_delays_each_direction() -> None:
    loop = asyncio.get_running_loop()
    async with (
        echo_server() as target,
        TcpProxy(target, latency=0.1) as proxy,
        connection(proxy.port) as (reader, writer),
    ):
        started = loop.time()
        assert await roundtrip(reader, writer, b"slow") == b"slow"
        assert loop.time() - started >= 0.2


async def test_a_reader_that_stops_reading_is_not_buffered_without_limit() -> None:
    chunk = b"x" * 65536

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(1024):  # 64 MiB if nobody pushed back
                writer.write(chunk)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(flood, "127.0.0.1", 0)
    try:
        async with (
            TcpProxy(("127.0.0.1", server.sockets[0].getsockname()[1])) as proxy,
            connection(proxy.port) as (reader, _writer),
        ):
            await reader.readexactly(1)
            await asyncio.sleep(1.0)  # the client reads nothing more
            (link,) = proxy.links
            # What the proxy passed on is bounded by the sockets' buffers plus a few chunks.
            assert link.bytes_down < 24 * 2**20, link.bytes_down
    finally:
        server.close()
        await server.wait_closed()


async def test_balancer_goes_round_robin_and_skips_backends_that_refuse() -> None:
    async with echo_server(b"A:") as a, echo_server(b"B:") as b:
        async with echo_server(b"C:") as c_address:
            dead = c_address
        async with Balancer([a, dead, b]) as balancer:
            answers = []
            for _ in range(4):
                async with connection(balancer.port) as (reader, writer):
                    answers.append(await roundtrip(reader, writer, b"x"))
            assert answers == [b"A:x", b"B:x", b"B:x", b"A:x"]
            assert balancer.skipped == 1
        async with Balancer([dead]) as nowhere, connection(nowhere.port) as (reader, _writer):
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(1), 5)
