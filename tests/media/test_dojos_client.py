"""`media.dojos_client`: each answer of the dojo service translated into the error the media service acts on
(the happy path runs against the real dojo service in tests/media/videos/test_replay_videos.py). The dojo
service's failures are played by httpx's `MockTransport` (a fake server, not a mock of the client)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from media.dojos_client import DojosClient, HistoryGrant, parse_frame
from media.errors import (
    DojoAccessDenied,
    DojoHistoryError,
    DojoHistoryOff,
    DojoHistoryUnavailable,
    DojoNotFound,
    SourceUnavailable,
)
from media.queue import ReportRetry

DOJO = "6475a880-f5b6-496c-9155-92a9fbcbcd19"
HISTORY = {
    "dojo_id": DOJO,
    "started_at": "2026-12-06T03:10:00.123Z",
    "ended_at": "2026-12-06T04:10:00.000Z",
    "duration_ms": 3_599_877,
    "files": ["a.py"],
    "authors": [{"user_id": "u1", "display_name": None, "color": "#E6194B"}],
    "rotations": [{"at": "…", "t_ms": 0, "driver_id": "u1", "navigator_id": None}],
    "chat": [{"id": 1, "at": "…", "t_ms": 5, "user_id": "u1", "text": "oi"}],
    "idle": [{"from_ms": 10, "to_ms": 20_000}],
}


def client(handler: Callable[[httpx.Request], httpx.Response]) -> DojosClient:
    return DojosClient("http://dojo.test", transport=httpx.MockTransport(handler))


def answer(status: int, body: object = None, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=orjson.dumps(body), headers={"content-type": content_type})


async def test_the_history_is_read_with_the_callers_token() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return answer(200, HISTORY)

    async with client(handler) as dojos:
        history = await dojos.history("tok", DOJO)
    assert seen == ["Bearer tok"]
    assert history.duration_ms == 3_599_877 and history.idle[0].to_ms == 20_000
    assert history.authors[0].color == (0xE6, 0x19, 0x4B)
    assert history.authors[0].display_name == "u1"  # no name in the directory: a short form of the id


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (answer(404, {"detail": "No such dojo"}), DojoNotFound),
        (answer(409, {"type": "https://docs.pocdojo.dev/problems/history-off", "detail": "off"}), DojoHistoryOff),
        (answer(401, {"detail": "expired"}), DojoAccessDenied),
        (answer(403, {"detail": "no"}), DojoAccessDenied),
        (answer(422, {"detail": "bad"}), DojoHistoryError),
        (answer(503, {"detail": "down"}), DojoHistoryUnavailable),
        (answer(200, {"dojo_id": DOJO}), DojoHistoryError),  # unreadable: fields missing
        (answer(200, {**HISTORY, "authors": [{"user_id": "u1", "color": "red"}]}), DojoHistoryError),
    ],
)
async def test_each_refusal_is_its_error(response: httpx.Response, error: type[Exception]) -> None:
    async with client(lambda _: response) as dojos:
        with pytest.raises(error) as raised:
            await dojos.history("tok", DOJO)
    assert type(raised.value) is error


async def test_an_unreachable_dojo_service_is_retried_a_refusal_is_not() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with client(refuse) as dojos:
        with pytest.raises(DojoHistoryUnavailable) as raised:
            await dojos.history("tok", DOJO)
    retry = ReportRetry(max_runs=5, base_seconds=2)
    assert isinstance(raised.value, SourceUnavailable)
    assert retry.retry_in(raised.value, 1) == 4
    assert retry.retry_in(DojoAccessDenied("expired"), 1) is None
    assert retry.retry_in(DojoNotFound("gone"), 1) is None


def frame_line(t_ms: int) -> bytes:
    body = {"t_ms": t_ms, "driver_id": None, "files": [{"path": "a.py", "runs": [{"text": "x", "user_id": None}]}]}
    return orjson.dumps(body) + b"\n"


async def test_frames_are_streamed_and_must_answer_every_instant() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        asked = orjson.loads(request.content)["t_ms"]
        lines = b"".join(frame_line(t) for t in asked if t != 7)  # the service "loses" the instant 7
        return httpx.Response(200, content=lines, headers={"content-type": "application/x-ndjson"})

    async with client(handler) as dojos:
        lines = [line async for line in dojos.frames("tok", DOJO, [0, 5, 9])]
        assert [parse_frame(line).t_ms for line in lines] == [0, 5, 9]
        with pytest.raises(DojoHistoryError, match="2 frames for 3 instants"):
            _ = [line async for line in dojos.frames("tok", DOJO, [0, 5, 7])]


def test_an_unreadable_frame_is_a_history_error() -> None:
    with pytest.raises(DojoHistoryError, match="frame"):
        parse_frame(b'{"t_ms": 1, "files": [{"path": "a.py", "runs": [{"user_id": null}]}]}')
    with pytest.raises(DojoHistoryError):
        parse_frame(b"not json")


async def test_the_worker_reads_with_a_grant_and_a_refused_grant_says_to_ask_again() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append({k: v for k, v in request.headers.items() if k in ("authorization", "history-grant")})
        if request.method == "POST":
            return answer(201, {"id": "g1", "dojo_id": DOJO, "grant": "dhg1.s", "expires_at": "2026-12-06T05:10:00Z"})
        if request.method == "DELETE":
            return httpx.Response(204)
        if request.headers.get("history-grant") == "dhg1.s":
            return answer(200, HISTORY)
        return answer(401, {"detail": "This history grant expired: ask for a new one."})

    async with client(handler) as dojos:
        grant = await dojos.grant("tok", DOJO)
        assert "dhg1.s" not in repr(grant)
        assert (await dojos.history(grant, DOJO)).dojo_id == DOJO
        await dojos.revoke(grant)
        with pytest.raises(DojoAccessDenied, match="ask for the video again"):
            await dojos.history(HistoryGrant("g2", DOJO, "dhg1.old", grant.expires_at), DOJO)
    assert seen[:3] == [{"authorization": "Bearer tok"}, {"history-grant": "dhg1.s"}, {"history-grant": "dhg1.s"}]
