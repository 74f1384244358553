"""Issue #5: the concurrent ``friendsforever`` trace replayed by two clients on two different nodes
ends with the trace's ``endContent`` everywhere — both clients, all three nodes, PostgreSQL.

Each replay process (``tests/js/replay_concurrent.mjs``, a real y-websocket client) waits, before
each of its agent's transactions, for the other agent's transactions the trace says it had seen: so
every cross-agent dependency makes a round trip node A → Redis → node B.
"""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest

from tests.cluster.conftest import Cluster
from tests.conftest import wait_until
from tests.jsclient import REPLAY_SCRIPT, require_node
from tests.traces import TRACES

TRACE_NAME = "friendsforever.json.gz"


@pytest.mark.slow
async def test_friendsforever_replayed_on_two_nodes(cluster: Cluster) -> None:
    trace = TRACES / TRACE_NAME
    node = require_node()
    end_content = json.loads(gzip.decompress(trace.read_bytes()))["endContent"]
    nodes = await cluster.start_nodes(3)
    room = "friendsforever"
    procs = []
    try:
        for agent, target in enumerate(nodes[:2]):
            procs.append(
                await asyncio.create_subprocess_exec(
                    node,
                    str(REPLAY_SCRIPT),
                    "--url",
                    target.ws_url,
                    "--room",
                    room,
                    "--agent",
                    str(agent),
                    "--trace",
                    str(trace),
                    "--params",
                    json.dumps({"ticket": cluster.ticket(room, f"agent{agent}")}),
                    "--timeout",
                    "150000",
                    cwd=REPLAY_SCRIPT.parent,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )
            )
        outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in procs)), 170)
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    for agent, (proc, (out, err)) in enumerate(zip(procs, outputs, strict=True)):
        events = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        assert proc.returncode == 0, (agent, events[-3:], err.decode()[-2000:])
        # "converged": the replaying client's text equals endContent (checked by the script).
        done = next(e for e in events if e["event"] == "done")
        converged = next(e for e in events if e["event"] == "converged")
        print(f"agent {agent} on {nodes[agent].name}: {done['applied']} transactions, {converged['elapsedMs']} ms")
    for target in nodes:
        # A node that loads the room only now (node3) answers from the store and the log at once and
        # asks the others for anything the trimmed log and the not-yet-saved store both lack.
        async def holds(node=target) -> bool:  # type: ignore[no-untyped-def]
            return await cluster.read_node(node, room) == end_content

        await wait_until(holds, 10, f"{target.name} holds endContent")

    async def stored() -> bool:
        return await cluster.read_store(room) == end_content

    await wait_until(stored, 30, "PostgreSQL holds endContent")
