"""The Node.js interop harness works: the reference client and server run, and agree with our codec.

Needs ``node`` and ``npm ci --prefix tests/js`` (the Makefile runs it); a missing one is a failure that
says what to run, as in every other test that drives Node, never a skip.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from pycrdt import Doc, Text

from crdt import (
    AwarenessEntry,
    AwarenessMessage,
    SyncStep2,
    SyncUpdate,
    apply_update,
    decode_message,
    encode_awareness,
    encode_permission_denied,
    encode_sync_step1,
    encode_sync_step2,
    encode_sync_update,
    encode_var_string,
    encode_var_uint,
)
from tests.jsclient import JS_DIR, REPLAY_SCRIPT, JsClient, ReferenceServer, require_node
from tests.traces import TRACES

TRACE = TRACES / "friendsforever.json.gz"


async def run_node(*args: str, within: float = 60.0) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        require_node(),
        *args,
        cwd=JS_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), within)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_codec_matches_lib0_and_y_protocols_byte_for_byte() -> None:
    code, out, err = await run_node("vectors.mjs")
    assert code == 0, err
    vectors: dict[str, str] = json.loads(out)
    for name, hex_ in vectors.items():
        kind, _, arg = name.partition(":")
        if kind == "varUint":
            assert encode_var_uint(int(arg)).hex() == hex_, name
        elif kind == "varString":
            assert encode_var_string(json.loads(arg)).hex() == hex_, name
    assert vectors["emptyStep1"] == encode_sync_step1(Doc().get_state()).hex() == "00000100"
    update = bytes.fromhex(vectors["update"])
    assert encode_sync_update(update).hex() == vectors["updateFrame"]
    assert decode_message(bytes.fromhex(vectors["updateFrame"])) == SyncUpdate(update)
    assert encode_sync_step2(update).hex() == vectors["step2Frame"]
    assert decode_message(bytes.fromhex(vectors["step2Frame"])) == SyncStep2(update)
    state = '{"user":{"name":"Zoë","color":"#ff0"}}'
    assert encode_awareness([AwarenessEntry(42, 1, state)]).hex() == vectors["awarenessFrame"]
    assert decode_message(bytes.fromhex(vectors["awarenessRemovalFrame"])) == AwarenessMessage(
        (AwarenessEntry(42, 1, "null"),)
    )
    assert encode_permission_denied("no entry").hex() == vectors["permissionDenied"]
    # A Yjs update applies to pycrdt.
    doc: Doc[Text] = Doc()
    apply_update(doc, update)
    assert str(doc.get("text", type=Text)) == "hello"


async def test_two_clients_converge_through_the_reference_server() -> None:
    async with (
        ReferenceServer.start() as server,
        JsClient.start(server.url, "harness-room") as alice,
        JsClient.start(server.url, "harness-room") as bob,
    ):
        await alice.wait_synced()
        await bob.wait_synced()
        assert await alice.status() == ("connected", True)
        await alice.insert(0, "hello")
        await bob.wait_text("hello")
        await bob.insert(5, " world")
        await alice.wait_text("hello world")
        await alice.delete(0, 1)
        await bob.insert(0, "J")
        await alice.wait_text("Jello world")
        await bob.wait_text("Jello world")
        assert await alice.get_text() == await bob.get_text() == "Jello world"

        # Awareness goes through the server too.
        bob_id = await bob.client_id()
        await bob.set_awareness({"user": "bob"})
        await alice.wait_event(lambda e: e.get("event") == "awareness" and bob_id in e["updated"] + e["added"])
        assert (await alice.awareness())[bob_id] == {"user": "bob"}

        # The JS document state is readable by pycrdt.
        doc: Doc[Text] = Doc()
        apply_update(doc, await bob.encode_state())
        assert str(doc.get("text", type=Text)) == "Jello world"
        assert await alice.state_vector()

        # Leaving is announced: alice sees bob's awareness removed.
        await bob.close()
        await alice.wait_event(lambda e: e.get("event") == "awareness" and bob_id in e["removed"])
        assert not [e for e in alice.events if e["event"] == "unparsable"]


async def test_disconnect_and_reconnect_resyncs() -> None:
    async with (
        ReferenceServer.start() as server,
        JsClient.start(server.url, "resync-room") as alice,
        JsClient.start(server.url, "resync-room") as bob,
    ):
        await alice.wait_synced()
        await bob.wait_synced()
        await bob.disconnect()
        await bob.wait_event(lambda e: e == {"event": "status", "status": "disconnected"})
        await alice.insert(0, "online")
        await bob.insert(0, "offline")
        await asyncio.sleep(0.2)  # waits out a negative: the offline edit must not reach alice
        assert await alice.get_text() == "online"
        await bob.connect()
        await bob.wait_synced()
        merged = await bob.get_text()
        assert merged in {"onlineoffline", "offlineonline"}
        await alice.wait_text(merged)


async def test_replay_oracle_dry_run() -> None:
    code, out, err = await run_node(str(REPLAY_SCRIPT), "--trace", str(TRACE), "--dry-run")
    assert code == 0, err
    assert json.loads(out)["ok"] is True


@pytest.mark.slow
async def test_concurrent_trace_replay_converges_through_the_reference_server() -> None:
    async with ReferenceServer.start() as server:
        results = await asyncio.gather(
            *(
                run_node(
                    str(REPLAY_SCRIPT),
                    *("--url", server.url, "--room", "replay", "--agent", str(agent), "--trace", str(TRACE)),
                    within=120,
                )
                for agent in (0, 1)
            )
        )
    for code, out, err in results:
        assert code == 0, out + err
        events = [json.loads(line)["event"] for line in out.splitlines()]
        assert "converged" in events, out
