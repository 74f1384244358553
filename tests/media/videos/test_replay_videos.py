"""Dojo replay videos end to end on the whole stack in one process (as `pocdojo dev` serves it: identity, the
dojo service, media; real PostgreSQL, real y-websocket clients, the real media worker and ffmpeg): a dojo
two users typed in and chatted, ended, replayed as an MP4 whose captions hold the chat and whose final
frame shows each author's text in the author's colour; and every refusal of a bad request, precise."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import av
import httpx
import pytest
from PIL import Image

from deploy.local import DatabaseUrls
from media.dojos_client import parse_history
from media.video.replay_model import ReplaySpec
from media.video.replay_screen import ReplayScreen
from runtime.settings import Settings
from tests.conftest import wait_until
from tests.dojo.conftest import CollabServer, User
from tests.dojo.test_dojos import _create, _joined, _team, _uid
from tests.dojo.test_replay import recorded
from tests.media.jobs.conftest import TEST_MEDIA_SETTINGS, worker

PROBLEM = "application/problem+json"
REPLAY = {"kind": "dojo-replay", "resolution": "720p", "locale": "en"}
CHAT = "Bora pro próximo teste & <refatorar>"


@pytest.fixture
async def stack(make_settings: Callable[..., Settings], tmp_path: Path) -> AsyncIterator[CollabServer]:
    server = CollabServer(make_settings, overrides={**TEST_MEDIA_SETTINGS, "media_local_root": tmp_path / "objects"})
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def api(stack: CollabServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.base, timeout=60) as client:
        yield client


async def ask(api: httpx.AsyncClient, user: User, **body: Any) -> httpx.Response:
    return await api.post("/v1/videos", json={**REPLAY, **body}, headers=user.auth)


async def wait_done(api: httpx.AsyncClient, user: User, video_id: str) -> dict[str, Any]:
    latest: dict[str, Any] = {}

    async def finished() -> bool:
        response = await api.get(f"/v1/videos/{video_id}", params={"wait": 5}, headers=user.auth)
        assert response.status_code == 200, response.text
        latest.update(response.json())
        assert latest["status"] in ("queued", "running", "done"), latest
        return latest["status"] == "done"

    await wait_until(finished, within=180, interval=0)
    return latest


async def typed_and_ended(stack: CollabServer, api: httpx.AsyncClient) -> tuple[User, User, dict[str, Any]]:
    """A dojo the host and a member typed in (one line each) and the member chatted in, then ended."""
    host, member = await _team(stack, api, 1)
    dojo = await _create(api, host)
    async with _joined(stack, api, dojo, host) as a, _joined(stack, api, dojo, member) as b:
        await a.insert(0, "def score(rolls):\n", file="src/kata.py")
        await b.wait_text("def score(rolls):\n", file="src/kata.py")
        said = await api.post(f"/v1/dojos/{dojo['id']}/messages", json={"text": CHAT}, headers=member.auth)
        assert said.status_code == 201, said.text
        await b.insert(18, "    return sum(rolls)\n", file="src/kata.py")
        await a.wait_text("def score(rolls):\n    return sum(rolls)\n", file="src/kata.py")
        await recorded(stack)
    ended = await api.post(f"/v1/dojos/{dojo['id']}/end", headers=host.auth)
    assert ended.status_code == 200, ended.text
    return host, member, dojo


def colour_share(image: Image.Image, box: tuple[int, int, int, int], colour: tuple[int, int, int]) -> int:
    """Pixels of `box` near `colour` (antialiasing, H.264 and JPEG move the edges)."""
    raw = image.convert("RGB").crop(box).tobytes()
    pixels = (raw[i : i + 3] for i in range(0, len(raw), 3))
    return sum(1 for pixel in pixels if sum(abs(a - b) for a, b in zip(pixel, colour, strict=True)) <= 60)


JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


async def stored_row(database: DatabaseUrls, video_id: str) -> dict[str, Any]:
    """The video's row as stored, every column."""
    conn = await asyncpg.connect(database.admin)
    try:
        row = await conn.fetchrow("SELECT * FROM media.videos WHERE id = $1", uuid.UUID(video_id))
    finally:
        await conn.close()
    assert row is not None
    return dict(row.items())


def no_token_in(row: dict[str, Any], *tokens: str) -> None:
    """No column holds an access token (nor anything shaped like a JWT)."""
    text = repr(row)
    assert not JWT.search(text), text
    assert all(token not in text for token in tokens)


async def test_a_two_author_dojo_is_replayed_as_a_video(
    stack: CollabServer, api: httpx.AsyncClient, database: DatabaseUrls
) -> None:
    host, member, dojo = await typed_and_ended(stack, api)
    asked = await ask(api, member, dojo_id=dojo["id"], speed=4)
    assert asked.status_code == 202, asked.text
    video = asked.json()
    assert (video["kind"], video["dojo_id"], video["speed"], video["period"]) == ("dojo-replay", dojo["id"], 4, None)
    queued = await stored_row(database, video["id"])
    no_token_in(queued, member.access_token)
    assert queued["grant_secret"].startswith("dhg1.") and queued["grant_id"]  # the dojo service's grant
    async with worker(stack.settings):
        done = await wait_done(api, member, video["id"])
    finished = await stored_row(database, video["id"])
    no_token_in(finished, member.access_token)
    assert finished["grant_secret"] is None  # forgotten once the run ended
    revoked = await api.get(f"/v1/dojos/{dojo['id']}/history", headers={"History-Grant": queued["grant_secret"]})
    assert revoked.status_code == 401, revoked.text  # and revoked
    assert 2.0 <= done["duration_seconds"] <= 180.0

    download = await api.get(f"/v1/videos/{video['id']}/download", headers=member.auth, follow_redirects=True)
    assert download.status_code == 200 and download.content[4:8] == b"ftyp"
    with av.open(io.BytesIO(download.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in container.decode(stream)) > 0
    captions = await api.get(f"/v1/videos/{video['id']}/captions", headers=member.auth, follow_redirects=True)
    assert captions.status_code == 200
    assert "Bora pro próximo teste &amp; &lt;refatorar&gt;" in captions.text

    # The thumbnail (the final frame): the host's line in the host's colour, the member's in the member's.
    history = parse_history((await api.get(f"/v1/dojos/{dojo['id']}/history", headers=member.auth)).json())
    screen = ReplayScreen(ReplaySpec(title="", speed=4), history, [])
    host_colour, member_colour = history.color_of(_uid(host)), history.color_of(_uid(member))
    assert host_colour != member_colour
    thumbnail = await api.get(f"/v1/videos/{video['id']}/thumbnail", headers=member.auth, follow_redirects=True)
    with Image.open(io.BytesIO(thumbnail.content)) as final:
        assert colour_share(final, screen.line_box(0), host_colour) > 5
        assert colour_share(final, screen.line_box(0), member_colour) == 0
        assert colour_share(final, screen.line_box(1), member_colour) > 5
        assert colour_share(final, screen.line_box(1), host_colour) == 0

    listed = (await api.get("/v1/videos", headers=member.auth)).json()["items"]
    assert [(v["id"], v["kind"]) for v in listed] == [(video["id"], "dojo-replay")]
    replays = await api.get("/v1/videos", params={"kind": "dojo-replay"}, headers=member.auth)
    assert [v["id"] for v in replays.json()["items"]] == [video["id"]]
    years = await api.get("/v1/videos", params={"kind": "year-in-review"}, headers=member.auth)
    assert years.json()["items"] == []


async def test_bad_replay_requests_are_refused_precisely(stack: CollabServer, api: httpx.AsyncClient) -> None:
    host, member, dojo = await typed_and_ended(stack, api)
    outsider = await stack.user(api, tenant=host.tenant, email=f"out@{host.tenant}.example.com")
    other_tenant = await stack.user(api)

    async def field_error(user: User, field: str, code: str | None = None, **body: Any) -> None:
        response = await ask(api, user, **body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        errors = response.json()["errors"]
        assert [e["field"] for e in errors] == [field], errors
        if code is not None:
            assert errors[0]["code"] == code

    await field_error(member, "dojo_id", "not_found", dojo_id=str(uuid.uuid4()))  # no such dojo
    await field_error(outsider, "dojo_id", "not_found", dojo_id=dojo["id"])  # not a participant
    await field_error(other_tenant, "dojo_id", "not_found", dojo_id=dojo["id"])  # another tenant's
    await field_error(member, "dojo_id", dojo_id="not-a-uuid")
    await field_error(member, "dojo_id")  # missing
    await field_error(member, "speed", dojo_id=dojo["id"], speed=65)
    await field_error(member, "speed", dojo_id=dojo["id"], speed=0.5)
    await field_error(member, "speed", dojo_id=dojo["id"], speed="8")
    await field_error(member, "period", dojo_id=dojo["id"], period=2025)
    await field_error(member, "kind", dojo_id=dojo["id"], kind="dojo")
    year = await api.post("/v1/videos", json={"resolution": "720p", "locale": "en", "speed": 8}, headers=member.auth)
    assert year.status_code == 422 and [e["field"] for e in year.json()["errors"]] == ["speed"]

    running = await _create(api, host)
    still = await ask(api, host, dojo_id=running["id"])
    assert still.status_code == 409 and still.json()["code"] == "dojo-running", still.text

    off = await api.put("/v1/dojos/settings/history", json={"enabled": False}, headers=host.auth)
    assert off.status_code == 200, off.text
    refused = await ask(api, member, dojo_id=dojo["id"])
    assert refused.status_code == 409 and refused.json()["code"] == "history-off", refused.text

    # None of these made a video.
    assert (await api.get("/v1/videos", headers=member.auth)).json()["items"] == []


async def test_a_replay_whose_grant_expired_fails_once_with_a_sentence(
    stack: CollabServer, api: httpx.AsyncClient, database: DatabaseUrls
) -> None:
    _, member, dojo = await typed_and_ended(stack, api)
    asked = await ask(api, member, dojo_id=dojo["id"])
    assert asked.status_code == 202, asked.text
    video_id = asked.json()["id"]
    # The grant expires before a worker takes the job (the job queued longer than the grant lives).
    conn = await asyncpg.connect(database.admin)
    try:
        grant_id = await conn.fetchval("SELECT grant_id FROM media.videos WHERE id = $1", uuid.UUID(video_id))
        await conn.execute(
            "UPDATE dojo.history_grants SET expires_at = now() - interval '1 second' WHERE id = $1",
            uuid.UUID(grant_id),
        )
    finally:
        await conn.close()
    latest: dict[str, Any] = {}
    async with worker(stack.settings):

        async def failed() -> bool:
            response = await api.get(f"/v1/videos/{video_id}", params={"wait": 5}, headers=member.auth)
            latest.update(response.json())
            return latest["status"] == "failed"

        await wait_until(failed, within=60, interval=0)
    assert "ask for the video again" in latest["error"], latest
    assert latest["download_url"] is None
    assert (await stored_row(database, video_id))["grant_secret"] is None
