"""The raw RESP3 connection of the hot paths (`runtime.resp`) against a real redis-server: commands and
published messages share one connection, replies come back in order, and a lost connection fails what
waits on it instead of leaving it hanging."""

from __future__ import annotations

from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from runtime.resp import RespError, open_connection
from tests.cluster.conftest import RedisServer
from tests.conftest import wait_until
from tests.netproxy import TcpProxy


async def test_a_subscribed_connection_still_runs_commands_and_gets_its_messages_in_order(
    redis_server: RedisServer,
) -> None:
    messages: list[tuple[bytes, bytes]] = []
    lost: list[BaseException | None] = []
    conn = await open_connection(
        redis_server.url, setup_seconds=5, on_lost=lost.append, on_message=lambda c, d: messages.append((c, d))
    )
    try:
        await conn.call("SUBSCRIBE", "chan")
        replies: list[Any] = []
        conn.send(
            [
                ("PUBLISH", "chan", b"one"),
                ("SET", "k", b"v"),
                ("HSET", "k", "f", "v"),  # refused: the key holds a string; only this command fails
                ("PUBLISH", "chan", b"\x00two\r\n"),
                ("GET", "k"),
            ],
            [replies.append for _ in range(5)],
        )
        await wait_until(lambda: len(replies) == 5 and len(messages) == 2)
        published, stored, refused, published_again, read = replies
        assert (published, published_again) == (1, 1)  # one subscriber each time: this connection
        assert isinstance(refused, ResponseError) and "WRONGTYPE" in str(refused)
        assert read == b"v" and stored == b"OK"
        assert messages == [(b"chan", b"one"), (b"chan", b"\x00two\r\n")]
        conn.send_ignored("UNSUBSCRIBE", "chan")
        assert await conn.call("PUBLISH", "chan", b"three") == 0
        assert await conn.call("PING") == b"PONG"
    finally:
        conn.abort()
    await wait_until(lambda: len(lost) == 1)


async def test_a_lost_connection_fails_every_waiting_command_and_says_so_once(redis_server: RedisServer) -> None:
    lost: list[BaseException | None] = []
    async with TcpProxy(redis_server.address) as link:
        conn = await open_connection(
            redis_server.url_via(("127.0.0.1", link.port)), setup_seconds=5, on_lost=lost.append
        )
        replies: list[Any] = []
        link.blackhole()  # the commands go out, no reply comes back
        conn.send([("PING",), ("PING",)], [replies.append, replies.append])
        conn.ping()
        assert conn.overdue
        link.cut()
        await wait_until(lambda: len(replies) == 2 and len(lost) == 1)
        assert all(isinstance(reply, RedisConnectionError) for reply in replies)
        assert conn.closed
        after: list[Any] = []
        conn.send([("PING",)], [after.append])  # on a closed connection: fails at once
        assert len(after) == 1 and isinstance(after[0], RedisConnectionError)
        with pytest.raises(RedisConnectionError):
            await conn.call("PING")
    assert len(lost) == 1


async def test_a_connection_that_cannot_be_set_up_raises_a_clear_error(redis_server: RedisServer) -> None:
    """Credentials the server refuses fail the setup: a `RespError` naming the address, never the
    password."""
    url = redis_server.url.replace("redis://", "redis://nobody:s3cret-value@", 1)
    with pytest.raises(RespError) as refused:
        await open_connection(url, setup_seconds=5, on_lost=lambda exc: None)
    assert "s3cret-value" not in str(refused.value)
    with pytest.raises(RespError, match="unsupported redis URL scheme"):
        await open_connection("http://127.0.0.1:1/", setup_seconds=5, on_lost=lambda exc: None)


async def test_a_failing_reply_callback_is_logged_and_the_connection_goes_on(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    lost: list[BaseException | None] = []
    conn = await open_connection(redis_server.url, setup_seconds=5, on_lost=lost.append)
    try:

        def broken(reply: Any) -> None:
            raise RuntimeError("a caller's bug")

        after: list[Any] = []
        conn.send([("PING",), ("ECHO", b"still here")], [broken, after.append])
        await wait_until(lambda: after == [b"still here"])
        assert await conn.call("PING") == b"PONG"
        assert not conn.closed and lost == []
        assert any("reply callback failed" in r.getMessage() for r in caplog.records)
    finally:
        conn.abort()
