"""Bad input and authorization on the collab endpoint: precise close codes, nothing corrupted,
nobody else disturbed, the server alive."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
from pycrdt import Doc, Text
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from crdt import AuthPermissionDenied, CloseCode, SyncUpdate, decode_message, encode_sync_update
from tests.dojo.conftest import CollabServer, scrape, value
from tests.dojo.yclient import PyClient, closed_with

ABNORMAL = "pocdojo_ws_abnormal_closes_total"

BAD_FRAMES: list[tuple[str, bytes, int]] = [
    ("empty frame", b"", CloseCode.BAD_MESSAGE),
    ("unknown message type", b"\x07\x00", CloseCode.BAD_MESSAGE),
    ("truncated varint", b"\x00\x02\xff\xff", CloseCode.BAD_MESSAGE),
    ("absurd length prefix", b"\x00\x02\xff\xff\xff\xff\x0f" + b"x" * 10, CloseCode.BAD_MESSAGE),
    ("varint overflow", b"\x00" + b"\xff" * 12, CloseCode.BAD_MESSAGE),
    ("trailing garbage", b"\x00\x00\x01\x00garbage", CloseCode.BAD_MESSAGE),
    ("corrupt update", encode_sync_update(b"\x01\x02\x03\x04\x05\x06\x07\x08\x09"), CloseCode.UPDATE_REJECTED),
    ("awareness with bad json", b"\x01\x0c\x01\x05\x01\x07{broken", CloseCode.BAD_MESSAGE),
    ("client auth message", b"\x02\x00\x02no", CloseCode.BAD_MESSAGE),
]


def _update(text: str, client_id: int = 4242) -> bytes:
    doc: Doc[object] = Doc(client_id=client_id)
    doc.get("text", type=Text).insert(0, text)
    return doc.get_update()


async def _state(http: httpx.AsyncClient, user, room: str) -> str:  # type: ignore[no-untyped-def]
    response = await http.get(f"/v1/collab/{room}/content", params={"text": "text"}, headers=user.auth)
    assert response.status_code == 200, response.text
    return str(response.json()["text"]["text"])


@pytest.mark.parametrize(("name", "frame", "code"), BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
async def test_bad_frames_close_cleanly_and_change_nothing(
    collab: CollabServer, http: httpx.AsyncClient, name: str, frame: bytes, code: int
) -> None:
    user = await collab.user(http)
    room = "fuzz"
    async with PyClient.connect(f"{collab.ws_url}/{room}", headers=user.auth) as bystander:
        await asyncio.wait_for(bystander.synced.wait(), 5)
        bystander.text.insert(0, "intact")
        await bystander.round_trip()
        async with connect(f"{collab.ws_url}/{room}", additional_headers=user.auth, compression=None) as bad:
            await bad.send(frame)
            assert await closed_with(bad) == code, name
        # The document is unchanged and the bystander still works.
        bystander.text.insert(len(bystander.text), " still")
        await bystander.round_trip()
        assert await _state(http, user, room) == "intact still"
        assert bystander.close_code is None


async def test_random_bytes_never_hurt_the_server(collab: CollabServer, http: httpx.AsyncClient) -> None:
    user = await collab.user(http)
    rng = random.Random(20261125)
    async with PyClient.connect(f"{collab.ws_url}/random", headers=user.auth) as bystander:
        await asyncio.wait_for(bystander.synced.wait(), 5)
        bystander.text.insert(0, "safe")
        for _ in range(40):
            frame = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
            async with connect(f"{collab.ws_url}/random", additional_headers=user.auth, compression=None) as bad:
                await bad.send(frame)
                code = await closed_with(bad, 2)
                # None: valid by chance (an empty awareness update, a step1...): answered and kept open.
                assert code in (None, CloseCode.BAD_MESSAGE, CloseCode.UPDATE_REJECTED), frame.hex()
        await bystander.round_trip()
        assert await _state(http, user, "random") == "safe"
        bystander.text.insert(4, "!")
        await bystander.round_trip()
        assert await _state(http, user, "random") == "safe!"
    assert (await http.get("/healthz")).status_code == 200


async def test_text_and_oversized_frames(collab: CollabServer, http: httpx.AsyncClient) -> None:
    user = await collab.user(http)
    async with connect(f"{collab.ws_url}/frames", additional_headers=user.auth, compression=None) as ws:
        await ws.send("a text frame")
        assert await closed_with(ws) == CloseCode.UNSUPPORTED_DATA
    limit = collab.settings.collab_max_frame_bytes
    async with connect(f"{collab.ws_url}/frames", additional_headers=user.auth, compression=None, max_size=None) as ws:
        try:
            await ws.send(b"\x00\x02" + b"x" * (limit + 1))
            code = await closed_with(ws)
        except ConnectionClosed as exc:  # closed while the big frame was still being written
            code = exc.rcvd.code if exc.rcvd is not None else None
        assert code == CloseCode.MESSAGE_TOO_BIG


async def _refusal(url: str, headers: dict[str, str] | None = None) -> tuple[str, int]:
    async with connect(url, additional_headers=headers or {}, compression=None) as ws:
        first = await asyncio.wait_for(ws.recv(), 5)
        assert isinstance(first, bytes)
        message = decode_message(first)
        assert isinstance(message, AuthPermissionDenied)
        code = await closed_with(ws)
        assert code is not None
        return message.reason, code


async def test_authorization_refusals(collab: CollabServer, http: httpx.AsyncClient) -> None:
    user = await collab.user(http)
    reason, code = await _refusal(f"{collab.ws_url}/private")
    assert code == CloseCode.UNAUTHORIZED and "unauthorized" in reason
    reason, code = await _refusal(f"{collab.ws_url}/private", {"Authorization": "Bearer not.a.token"})
    assert code == CloseCode.UNAUTHORIZED
    reason, code = await _refusal(f"{collab.ws_url}/private?ticket=forged.ticket")
    assert code == CloseCode.UNAUTHORIZED
    ticket = await collab.ticket(http, user, "room-one")
    reason, code = await _refusal(f"{collab.ws_url}/room-two?ticket={ticket}")
    assert code == CloseCode.UNAUTHORIZED and "another room" in reason
    # A browser origin outside the allowlist is refused before the upgrade.
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            f"{collab.ws_url}/private", additional_headers={**user.auth, "Origin": "https://evil.example"}
        ):
            pass
    assert refused.value.response.status_code == 403
    # Bad room names, over HTTP and the socket alike.
    reason, code = await _refusal(f"{collab.ws_url}/-bad-name-", user.auth)
    assert code == CloseCode.BAD_MESSAGE


async def test_rooms_are_namespaced_by_tenant(collab: CollabServer, http: httpx.AsyncClient) -> None:
    alice = await collab.user(http)
    mallory = await collab.user(http)
    async with PyClient.connect(f"{collab.ws_url}/shared-name", headers=alice.auth) as a:
        await asyncio.wait_for(a.synced.wait(), 5)
        a.text.insert(0, "tenant A secret")
        await a.round_trip()
        async with PyClient.connect(f"{collab.ws_url}/shared-name", headers=mallory.auth) as m:
            await asyncio.wait_for(m.synced.wait(), 5)  # its step2 holds the whole document it may see
            assert str(m.text) == ""
            m.text.insert(0, "tenant B")
            await m.round_trip()
        await a.round_trip()  # anything the server had sent to A by now has arrived
        assert str(a.text) == "tenant A secret"
    assert await _state(http, mallory, "shared-name") == "tenant B"
    assert await _state(http, alice, "shared-name") == "tenant A secret"


def _updates(client: PyClient) -> list[bytes]:
    """The document updates a client has received (not the step2 answers to its round trips)."""
    return [frame for frame in client.received if isinstance(decode_message(frame), SyncUpdate)]


async def test_read_only_edits_never_reach_anyone(collab: CollabServer, http: httpx.AsyncClient) -> None:
    user = await collab.user(http)
    room = "readonly"
    ro_ticket = await collab.ticket(http, user, room, mode="read-only")
    async with (
        PyClient.connect(f"{collab.ws_url}/{room}", headers=user.auth) as writer,
        PyClient.connect(f"{collab.ws_url}/{room}?ticket={ro_ticket}") as reader,
    ):
        await asyncio.wait_for(writer.synced.wait(), 5)
        await asyncio.wait_for(reader.synced.wait(), 5)
        writer.text.insert(0, "by the writer")
        await reader.wait_text("by the writer")
        updates_before = _updates(writer)
        reader.text.insert(0, "sneaky ")
        await reader.round_trip()  # the server has handled the sneaky update...
        await writer.round_trip()  # ...and whatever it sent the writer has arrived
        assert str(writer.text) == "by the writer"
        assert _updates(writer) == updates_before
        assert await _state(http, user, room) == "by the writer"
        # The reader keeps receiving (it is read-only, not disconnected).
        writer.text.insert(len(writer.text), "!")
        await writer.round_trip()
        await reader.round_trip()
        assert str(reader.text).endswith("by the writer!")
        assert reader.close_code is None


async def test_message_rate_limit_closes_with_try_again_later(collab: CollabServer, http: httpx.AsyncClient) -> None:
    user = await collab.user(http)
    burst = collab.settings.collab_message_burst
    async with connect(f"{collab.ws_url}/flood", additional_headers=user.auth, compression=None) as ws:
        for _ in range(burst * 3):
            try:
                await ws.send(b"\x03")  # query-awareness: cheap and valid
            except ConnectionClosed:
                break  # closed mid-flood, as it should be
        assert await closed_with(ws) == CloseCode.TRY_AGAIN_LATER


async def test_http_document_api(collab: CollabServer, http: httpx.AsyncClient) -> None:
    user = await collab.user(http)
    room = "server-side"
    async with PyClient.connect(f"{collab.ws_url}/{room}", headers=user.auth) as client:
        await asyncio.wait_for(client.synced.wait(), 5)
        response = await http.post(
            f"/v1/collab/{room}/updates",
            content=_update("from the server"),
            headers={**user.auth, "Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 204, response.text
        await client.wait_text("from the server")
    state = await http.get(f"/v1/collab/{room}/state", headers=user.auth)
    assert state.headers["content-type"] == "application/octet-stream"
    doc: Doc[object] = Doc()
    doc.apply_update(state.content)
    assert str(doc.get("text", type=Text)) == "from the server"
    roots = await http.get(f"/v1/collab/{room}/content", headers=user.auth)
    assert roots.json()["roots"] == ["text"]
    bad = await http.post(
        f"/v1/collab/{room}/updates",
        content=b"\x01\x02\x03\x04\x05\x06\x07",
        headers={**user.auth, "Content-Type": "application/octet-stream"},
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    wrong_type = await http.post(
        f"/v1/collab/{room}/updates", content=b"{}", headers={**user.auth, "Content-Type": "application/json"}
    )
    assert wrong_type.status_code == 415
    assert (await http.get(f"/v1/collab/{room}/state")).status_code == 401
    ro = await http.post("/v1/collab/tickets", json={"room": "bad name!"}, headers=user.auth)
    assert ro.status_code == 422


async def test_refusals_count_as_abnormal_closes(collab: CollabServer, http: httpx.AsyncClient) -> None:
    """What the deployment's close-code alarm reads (`pocdojo_ws_abnormal_closes_total`, issue 17)."""
    before = value(await scrape(http), ABNORMAL, endpoint="collab", code=str(int(CloseCode.UNAUTHORIZED)))
    _, code = await _refusal(f"{collab.ws_url}/private")
    assert code == CloseCode.UNAUTHORIZED
    after = value(await scrape(http), ABNORMAL, endpoint="collab", code=str(int(CloseCode.UNAUTHORIZED)))
    assert after == before + 1
