"""The signaling websocket on one node (identity + dojo served in this process, real websockets)."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import connect

from dojo.access import Access, Connecting
from dojo.docstore import room_key
from dojo.services import services_of as dojo_services
from identity.services import services_of as identity_services
from signaling import verify_credential
from tests.conftest import socket_event_seen, socket_events, wait_until
from tests.signaling.client import SignalClient
from tests.signaling.conftest import STUN_URLS, TURN_SECRET, TURN_TTL, TURN_URLS, SignalServer

OFFER_SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def room() -> str:
    return f"call-{uuid.uuid4().hex[:8]}"


async def test_join_gets_welcome_with_peers_ice_servers_and_limits(signal_server: SignalServer) -> None:
    name = room()
    async with SignalClient.connect(signal_server.url(name, "alice")) as alice:
        assert alice.welcome["user_id"] == "alice"
        assert alice.welcome["peers"] == []
        servers = alice.welcome["ice_servers"]
        assert servers[0] == {"urls": STUN_URLS}
        assert servers[1]["urls"] == TURN_URLS
        assert alice.welcome["limits"] == {
            "max_peers": 6,
            "max_message_bytes": 65536,
            "messages_per_second": 50.0,
            "message_burst": 200,
        }
        async with SignalClient.connect(signal_server.url(name, "bob")) as bob:
            assert bob.welcome["peers"] == [
                {"peer_id": alice.peer_id, "user_id": "alice", "audio": False, "video": False}
            ]
            joined = await alice.next("peer-joined")
            assert joined["peer"] == {"peer_id": bob.peer_id, "user_id": "bob", "audio": False, "video": False}
        left = await alice.next("peer-left")
        assert left == {"type": "peer-left", "peer_id": bob.peer_id, "user_id": "bob", "reason": "disconnected"}


async def test_relay_offer_answer_candidates_to_the_named_peer_only(signal_server: SignalServer) -> None:
    name = room()
    async with (
        SignalClient.connect(signal_server.url(name, "alice")) as alice,
        SignalClient.connect(signal_server.url(name, "bob")) as bob,
        SignalClient.connect(signal_server.url(name, "carol")) as carol,
    ):
        await alice.send({"type": "offer", "to": bob.peer_id, "sdp": OFFER_SDP, "id": 1})
        assert await bob.next("offer") == {"type": "offer", "from": alice.peer_id, "sdp": OFFER_SDP}
        await bob.send({"type": "answer", "to": alice.peer_id, "sdp": OFFER_SDP})
        assert (await alice.next("answer"))["from"] == bob.peer_id
        candidate = {
            "candidate": "candidate:1 1 udp 2130706431 10.0.0.1 5000 typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
        }
        await bob.send({"type": "candidate", "to": alice.peer_id, "candidate": candidate})
        await bob.send({"type": "candidate", "to": alice.peer_id, "candidate": None})
        assert (await alice.next("candidate"))["candidate"] == candidate
        assert (await alice.next("candidate"))["candidate"] is None
        await carol.send({"type": "ping", "id": "sync"})
        assert await carol.next("pong") == {"type": "pong", "ref": "sync"}
        assert not carol.of_type("offer") and not carol.of_type("answer") and not carol.of_type("candidate")


async def test_mute_and_camera_state_reaches_the_others_and_later_joiners(signal_server: SignalServer) -> None:
    name = room()
    async with (
        SignalClient.connect(signal_server.url(name, "alice")) as alice,
        SignalClient.connect(signal_server.url(name, "bob")) as bob,
    ):
        await alice.next("peer-joined")
        await bob.send({"type": "state", "audio": True})
        state = await alice.next("peer-state")
        assert state == {"type": "peer-state", "peer_id": bob.peer_id, "user_id": "bob", "audio": True, "video": False}
        await bob.send({"type": "state", "video": True})
        assert (await alice.next("peer-state"))["video"] is True
        async with SignalClient.connect(signal_server.url(name, "carol")) as carol:
            by_user = {p["user_id"]: p for p in carol.welcome["peers"]}
            assert by_user["bob"]["audio"] is True and by_user["bob"]["video"] is True
            assert by_user["alice"]["audio"] is False


async def test_wrong_targets_get_precise_errors_and_the_connection_stays(signal_server: SignalServer) -> None:
    name = room()
    async with (
        SignalClient.connect(signal_server.url(name, "alice")) as alice,
        SignalClient.connect(signal_server.url(name, "bob")) as bob,
    ):
        await alice.send({"type": "offer", "to": "p-nobody", "sdp": OFFER_SDP, "id": "o1"})
        error = await alice.next("error")
        assert error["code"] == "unknown_peer"
        assert error["path"] == "/to"
        assert error["ref"] == "o1"
        assert "'p-nobody'" in error["detail"] and bob.peer_id in error["detail"]
        await alice.send({"type": "offer", "to": alice.peer_id, "sdp": OFFER_SDP})
        error = await alice.next("error")
        assert error["code"] == "invalid_target" and error["path"] == "/to"
        # Still connected and relaying.
        await alice.send({"type": "offer", "to": bob.peer_id, "sdp": OFFER_SDP})
        assert (await bob.next("offer"))["from"] == alice.peer_id
        assert not bob.of_type("error")


@pytest.mark.parametrize(
    ("message", "code", "path", "words"),
    [
        ({"type": "hello"}, "unknown_type", "/type", "unknown message type 'hello'"),
        ({"type": "chat", "text": "hi"}, "unknown_type", "/type", "sent by the server only"),
        ({"to": "x"}, "invalid_message", "/type", "is required"),
        ({"type": 7}, "invalid_message", "/type", "must be string, not integer"),
        ({"type": "offer", "sdp": OFFER_SDP}, "invalid_message", "/to", "/to is required"),
        ({"type": "offer", "to": "x"}, "invalid_message", "/sdp", "/sdp is required"),
        ({"type": "offer", "to": 5, "sdp": OFFER_SDP}, "invalid_message", "/to", "must be string, not integer"),
        ({"type": "answer", "to": "x", "sdp": ""}, "invalid_message", "/sdp", "at least 1 character"),
        ({"type": "candidate", "to": "x"}, "invalid_message", "/candidate", "is required"),
        (
            {"type": "candidate", "to": "x", "candidate": {"candidate": "c", "sdpMLineIndex": "0"}},
            "invalid_message",
            "/candidate/sdpMLineIndex",
            "must be null or integer, not string",
        ),
        ({"type": "state"}, "invalid_message", "", "at least one of 'audio', 'video'"),
        ({"type": "state", "audio": "on"}, "invalid_message", "/audio", "must be boolean"),
        ({"type": "ping", "extra": 1}, "invalid_message", "/extra", "is not a field"),
        ([1, 2], "invalid_message", "", "a message is a JSON object, not array"),
        ("{not json", "invalid_json", None, "not valid JSON"),
    ],
)
async def test_bad_messages_get_precise_errors(
    signal_server: SignalServer, message: Any, code: str, path: str | None, words: str
) -> None:
    async with SignalClient.connect(signal_server.url(room())) as alice:
        await alice.send(message)
        error = await alice.next("error")
        assert error["code"] == code, error
        assert error.get("path") == path, error
        assert words in error["detail"], error
        await alice.send({"type": "ping"})
        await alice.next("pong")


async def test_oversized_sdp_is_refused_without_echo_and_others_are_undisturbed(signal_server: SignalServer) -> None:
    name = room()
    async with (
        SignalClient.connect(signal_server.url(name, "alice")) as alice,
        SignalClient.connect(signal_server.url(name, "bob")) as bob,
    ):
        huge = "a=x-padding:" + "z" * 70_000
        await alice.send({"type": "offer", "to": bob.peer_id, "sdp": huge, "id": 9})
        error = await alice.next("error")
        assert error["code"] == "message_too_large"
        assert "65536" in error["detail"] and "zzzz" not in error["detail"]
        # Just under the message limit, the SDP's own limit names the field.
        near = "z" * (65536 - 900)
        await alice.send({"type": "offer", "to": bob.peer_id, "sdp": near})
        error = await alice.next("error")
        assert error["path"] == "/sdp" and "longer than 64512 characters" in error["detail"]
        await alice.send({"type": "offer", "to": bob.peer_id, "sdp": OFFER_SDP})
        assert (await bob.next("offer"))["sdp"] == OFFER_SDP
        assert not bob.of_type("error")


async def test_flood_closes_the_flooder_only(signal_server: SignalServer) -> None:
    name = room()
    async with (
        SignalClient.connect(signal_server.url(name, "mallory")) as mallory,
        SignalClient.connect(signal_server.url(name, "alice")) as alice,
        SignalClient.connect(signal_server.url(name, "bob")) as bob,
    ):
        ping = '{"type":"ping"}'
        for _ in range(400):
            await mallory.send(ping)
        code, reason = await mallory.closed()
        assert code == 1013
        assert reason is not None and "rate limit" in reason
        left = await alice.next("peer-left")
        assert left["peer_id"] == mallory.peer_id
        await alice.send({"type": "offer", "to": bob.peer_id, "sdp": OFFER_SDP})
        assert (await bob.next("offer"))["from"] == alice.peer_id


async def test_repeated_invalid_messages_close_with_4400(signal_server: SignalServer) -> None:
    name = room()
    async with (
        SignalClient.connect(signal_server.url(name, "mallory")) as mallory,
        SignalClient.connect(signal_server.url(name, "alice")) as alice,
    ):
        for _ in range(30):
            await mallory.send({"type": "nonsense"})
        code, reason = await mallory.closed()
        assert code == 4400 and reason is not None and "too many invalid messages" in reason
        assert len(mallory.of_type("error")) >= 20
        await alice.send({"type": "ping"})
        await alice.next("pong")


async def test_mesh_cap_refuses_the_next_peer_clearly(signal_server: SignalServer) -> None:
    name = room()
    clients = [SignalClient.connect(signal_server.url(name, f"user{i}")) for i in range(6)]
    entered = [await c.__aenter__() for c in clients]
    try:
        async with SignalClient.connect(signal_server.url(name, "late"), welcome=False) as late:
            error = await late.next("error")
            assert error == {"type": "error", "code": "room_full", "detail": "room is full (6 peers)"}
            assert await late.closed() == (4409, "room is full (6 peers)")
        assert not any(
            c.of_type("peer-joined") and c.of_type("peer-joined")[-1]["peer"]["user_id"] == "late" for c in entered
        )
    finally:
        for c in reversed(clients):
            await c.__aexit__(None, None, None)
    async with SignalClient.connect(signal_server.url(name, "late")) as late:
        assert late.welcome["peers"] == []


async def test_leave_closes_normally_and_says_left(signal_server: SignalServer) -> None:
    name = room()
    async with SignalClient.connect(signal_server.url(name, "alice")) as alice:
        async with SignalClient.connect(signal_server.url(name, "bob")) as bob:
            await bob.send({"type": "leave"})
            assert (await bob.closed())[0] == 1000
        assert (await alice.next("peer-left"))["reason"] == "left"


async def test_refresh_ice_mints_a_fresh_turn_credential(signal_server: SignalServer) -> None:
    async with SignalClient.connect(signal_server.url(room())) as alice:
        await alice.send({"type": "refresh-ice", "id": 3})
        fresh = await alice.next("ice-servers")
        turn = fresh["ice_servers"][1]
        assert verify_credential(TURN_SECRET.encode(), turn["username"], turn["credential"]) == alice.peer_id
        assert fresh["ice_expires_at"] == int(turn["username"].split(":")[0])
        assert fresh["ice_expires_at"] >= alice.welcome["ice_expires_at"]
        assert abs(fresh["ice_expires_at"] - (time.time() + TURN_TTL)) <= 5


async def _refused(url: str, headers: dict[str, str] | None = None) -> tuple[dict[str, Any], int | None, str | None]:
    async with SignalClient.connect(url, headers=headers, welcome=False) as client:
        error = await client.next("error")
        code, reason = await client.closed()
        return error, code, reason


async def test_auth_refusals(signal_server: SignalServer) -> None:
    name = room()
    error, code, _ = await _refused(signal_server.bare_url(name))
    assert (code, error["code"]) == (4401, "unauthorized")
    assert "send an access token or a ticket" in error["detail"]
    error, code, _ = await _refused(signal_server.url(name, ticket_room="another-room"))
    assert (code, error["code"]) == (4401, "unauthorized") and "another room" in error["detail"]
    error, code, _ = await _refused(signal_server.url(name, purpose="collab"))
    assert code == 4401
    error, code, _ = await _refused(signal_server.bare_url(name) + "?ticket=forged.ticket")
    assert code == 4401
    error, code, _ = await _refused(signal_server.bare_url(name), headers={"Authorization": "Bearer not-a-jwt"})
    assert code == 4401
    error, code, _ = await _refused(signal_server.url("bad!room"))
    assert code == 4400


async def test_denied_by_the_authorizer_read_at_connection_time(signal_server: SignalServer) -> None:
    class OnlyInvited:
        async def authorize(self, who: Connecting) -> Access:
            return {"host": Access.READ_WRITE, "observer": Access.READ_ONLY}.get(who.user_id, Access.DENIED)

    dojo = dojo_services(signal_server.app)
    previous = dojo.authorizer
    dojo.authorizer = OnlyInvited()
    try:
        name = room()
        error, code, _ = await _refused(signal_server.url(name, "stranger"))
        assert (code, error["code"]) == (4403, "forbidden")
        async with (
            SignalClient.connect(signal_server.url(name, "host")) as host,
            SignalClient.connect(signal_server.url(name, "observer")) as observer,
        ):
            assert observer.welcome["peers"][0]["peer_id"] == host.peer_id
    finally:
        dojo.authorizer = previous


async def test_browser_origin_outside_the_allowlist_is_refused_before_the_upgrade(signal_server: SignalServer) -> None:
    with pytest.raises(Exception, match="403"):
        async with connect(signal_server.url(room()), origin="https://evil.example"):  # type: ignore[arg-type]
            pass


async def test_bearer_token_of_a_real_user(signal_server: SignalServer) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=signal_server.server.base, timeout=30) as http:
        user = await signal_server.server.user(http)
    async with SignalClient.connect(signal_server.bare_url(room()), headers=user.auth) as client:
        assert client.welcome["user_id"]


async def test_local_peers_api_for_the_dojo_service(signal_server: SignalServer) -> None:
    name = room()
    key = room_key(signal_server.tenant_id, name)
    async with (
        SignalClient.connect(signal_server.url(name, "alice")) as alice,
        SignalClient.connect(signal_server.url(name, "bob")) as bob,
    ):
        peers = {p.user_id: p for p in signal_server.hub.local_peers(key)}
        assert set(peers) == {"alice", "bob"}
        assert peers["alice"].peer_id == alice.peer_id
        peers["alice"].send_json({"type": "dojo", "event": "role", "role": "driver"})
        assert await alice.next("dojo") == {"type": "dojo", "event": "role", "role": "driver"}
        peers["bob"].send_json({"type": "chat", "from": "alice", "text": "hi"})
        assert (await bob.next("chat"))["text"] == "hi"
        peers["bob"].close(4403, "removed from the dojo")
        assert await bob.closed() == (4403, "removed from the dojo")
        assert (await alice.next("peer-left"))["peer_id"] == bob.peer_id
    assert signal_server.hub.local_peers(key) == []


async def test_metrics_count_messages_peers_and_refusals(signal_server: SignalServer) -> None:
    import httpx

    name = room()
    async with (
        SignalClient.connect(signal_server.url(name, "alice")) as alice,
        SignalClient.connect(signal_server.url(name, "bob")) as bob,
    ):
        await alice.send({"type": "offer", "to": bob.peer_id, "sdp": OFFER_SDP})
        await bob.next("offer")
        await alice.send({"type": "bogus"})
        await alice.next("error")
        async with httpx.AsyncClient(base_url=signal_server.server.base) as http:
            text = (await http.get("/metrics")).text
    assert 'pocdojo_signal_messages_total{outcome="relayed",type="offer"}' in text
    assert 'pocdojo_signal_messages_total{outcome="invalid",type="unknown"}' in text
    assert 'pocdojo_signal_sent_total{type="welcome"}' in text
    assert "pocdojo_signal_peers " in text and "pocdojo_signal_rooms " in text
    assert "pocdojo_signal_turn_credentials_total" in text


async def test_a_bearer_connection_closes_with_4401_when_the_token_expires(signal_server: SignalServer) -> None:
    import httpx
    import jwt

    async with httpx.AsyncClient(base_url=signal_server.server.base, timeout=30) as http:
        user = await signal_server.server.user(http)
    assert signal_server.server.app is not None
    keys = identity_services(signal_server.server.app.apps[0]).keys  # the identity service's signing keys
    claims = jwt.decode(user.access_token, options={"verify_signature": False})
    now = int(time.time())
    short = keys.sign({**claims, "iat": now, "nbf": now, "exp": now + 2, "jti": uuid.uuid4().hex})
    async with SignalClient.connect(signal_server.bare_url(room()), headers={"Authorization": f"Bearer {short}"}) as c:
        code, reason = await c.closed(within=6)
    assert code == 4401 and reason is not None and "expired" in reason
    assert time.time() >= now + 2


async def test_a_signaling_socket_logs_its_open_and_close(
    signal_server: SignalServer, caplog: pytest.LogCaptureFixture, quiet_uvicorn: None
) -> None:
    caplog.set_level(logging.INFO)
    url = signal_server.url("call-logged", "alice")
    async with SignalClient.connect(url) as alice:
        assert alice.welcome["user_id"] == "alice"
    await wait_until(socket_event_seen(caplog, "ws.close"))
    [opened] = socket_events(caplog, "ws.open")
    [closed] = socket_events(caplog, "ws.close")
    for line in (opened, closed):
        assert line["endpoint"] == "signal" and line["room"] == "call-logged"
        assert line["tenant_id"] == signal_server.tenant_id and line["user_id"] == "alice"
    assert closed["code"] == 1000 and isinstance(closed["duration_ms"], float)
    ticket = url.split("ticket=", 1)[1]
    assert ticket not in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("uvicorn") and "WebSocket" in r.getMessage()]
