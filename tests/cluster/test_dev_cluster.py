"""`pocdojo dev --nodes N`: node processes on consecutive ports sharing an embedded Redis and an
embedded PostgreSQL; clients of one room on both converge; SIGTERM stops the nodes, Redis and
PostgreSQL; the nodes are one service to a client (one issuer: a token from one node works on every
node, as behind a load balancer)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psutil
import pytest

from dojo.tickets import TicketSigner
from tests.cluster.conftest import POCDOJO, _die_with_parent
from tests.cluster.editing import Editor, check_document, edit_continuously, running
from tests.conftest import wait_until
from tests.jsclient import JsClient

ROOM = "dev-cluster"
REDIS_LINE = re.compile(r"sharing Redis redis://127\.0\.0\.1:(\d+)")
NODE_LINE = re.compile(r"node\d+: http://127\.0\.0\.1:(\d+)\s+\(pid (\d+)\)")


def consecutive_free_ports(count: int) -> int:
    """A port P such that P..P+count-1 were free a moment ago."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        if first + count > 65535:
            continue
        if all(_free(first + i) for i in range(1, count)):
            return first
    raise RuntimeError("no run of free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class DevCluster:
    """A running `pocdojo dev --nodes N`: its process, its nodes' ports, its state dir and log."""

    proc: asyncio.subprocess.Process
    ports: list[int]
    state: Path
    log_path: Path

    def base(self, node: int) -> str:
        """The URL of node `node` (1-based, as the command prints them)."""
        return f"http://127.0.0.1:{self.ports[node - 1]}"


@contextlib.asynccontextmanager
async def dev_cluster(server_dir: Path, nodes: int) -> AsyncIterator[DevCluster]:
    """Start `pocdojo dev --nodes N` on embedded PostgreSQL and Redis; wait until every node listens.
    At exit, whatever still runs is stopped (gracefully, else its whole process tree)."""
    port = consecutive_free_ports(nodes)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "POCDOJO_TICKET_SECRET")}
    log_path = server_dir / "dev.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            str(POCDOJO),
            "dev",
            "--nodes",
            str(nodes),
            "--port",
            str(port),
            "--state-dir",
            str(server_dir / "state"),
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    try:
        ports = [port + i for i in range(nodes)]

        def started() -> bool:
            text = log_path.read_text(errors="replace")
            if proc.returncode is not None:
                raise AssertionError(f"pocdojo dev exited with {proc.returncode}:\n{text[-3000:]}")
            return len(NODE_LINE.findall(text)) == nodes and all(_listening(p) for p in ports)

        await wait_until(started, 180, "every node listens", interval=0.2, detail=lambda: log_path.read_text()[-2000:])
        yield DevCluster(proc, ports, server_dir / "state", log_path)
    finally:
        if proc.returncode is None:
            # Failed half-way: a graceful stop (it stops Redis and PostgreSQL), else its whole tree.
            tree = psutil.Process(proc.pid).children(recursive=True)
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
            for child in tree:  # psutil refuses a PID that was reused since
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
        print(f"--- pocdojo dev log:\n{log_path.read_text(errors='replace')[-3000:]}")


@pytest.mark.slow
async def test_pocdojo_dev_nodes_2(server_dir: Path) -> None:
    async with dev_cluster(server_dir, 2) as cluster:
        ports = cluster.ports
        log_text = cluster.log_path.read_text(errors="replace")
        redis_match = REDIS_LINE.search(log_text)
        assert redis_match, log_text[-2000:]
        redis_port = int(redis_match[1])

        secret = (cluster.state / "ticket-secret").read_text().strip()
        signer = TicketSigner(secret.encode(), ttl_seconds=600)
        tenant = "7d1c3e9a-0000-4000-8000-000000000001"

        def url(node_port: int, user: str) -> str:
            ticket = signer.issue(tenant_id=tenant, user_id=user, room=ROOM, purpose="collab")
            return f"ws://127.0.0.1:{node_port}/v1/collab/{ROOM}?{urlencode({'ticket': ticket})}"

        editors = [Editor(i, [url(ports[i % 2], f"u{i}")], home=f"node{i % 2 + 1}") for i in range(4)]
        async with running(editors):
            await asyncio.wait_for(asyncio.gather(*(e.synced.wait() for e in editors)), 30)
            await edit_continuously(editors, asyncio.get_running_loop().time() + 2.0, interval=0.05)
            made = {t for e in editors for t in e.made}

            def converged() -> bool:
                current = {str(e.text) for e in editors}
                return len(current) == 1 and not check_document(current.pop(), made)

            await wait_until(converged, 15, "clients on both nodes converge")

        cluster.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(cluster.proc.wait(), 60) == 0
        # Everything it started is gone: both nodes, Redis, PostgreSQL.
        assert not any(_listening(p) for p in [*ports, redis_port])
        assert not (cluster.state / "pg" / "data" / "postmaster.pid").exists()


def _bearer(grant: httpx.Response) -> tuple[dict[str, str], str]:
    assert grant.status_code == 200, grant.text
    body = grant.json()
    return {"Authorization": f"Bearer {body['access_token']}"}, body["refresh_token"]


@pytest.mark.slow
async def test_a_client_moves_between_the_nodes_of_pocdojo_dev_nodes_3(server_dir: Path) -> None:
    """What a client behind a load balancer does: log in on one node, then meet the others."""
    async with dev_cluster(server_dir, 3) as cluster, contextlib.AsyncExitStack() as stack:
        node1, node2, node3 = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=cluster.base(i), timeout=30)) for i in (1, 2, 3)
        ]
        login = json.loads((cluster.state / "demo-login.json").read_text())
        # One issuer and one key set, whichever node is asked.
        discovered = [
            (await n.get("/.well-known/openid-configuration")).json()["issuer"] for n in (node1, node2, node3)
        ]
        assert len(set(discovered)) == 1, discovered
        key_sets = [(await n.get("/.well-known/jwks.json")).json() for n in (node1, node2, node3)]
        assert key_sets[0] == key_sets[1] == key_sets[2]

        auth, refresh = _bearer(
            await node1.post(
                "/v1/auth/token",
                data={
                    "grant_type": "password",
                    "tenant": login["tenant"],
                    **{k: login[k] for k in ("username", "password")},
                },
            )
        )
        for node in (node1, node2, node3):
            me = await node.get("/v1/auth/me", headers=auth)
            assert me.status_code == 200, (str(node.base_url), me.text)

        poc = await node2.post(
            "/v1/pocs",
            json={
                "name": "Kata across nodes",
                "github_url": "https://github.com/acme/kata-nodes",
                "language": "python",
            },
            headers=auth,
        )
        assert poc.status_code == 201, poc.text
        found = await node3.get("/v1/pocs", params={"q": "kata nodes"}, headers=auth)
        assert found.status_code == 200, found.text
        assert [p["id"] for p in found.json()["items"]] == [poc.json()["id"]]

        dojo = await node2.post(
            "/v1/dojos", json={"title": "Kata across nodes", "poc_id": poc.json()["id"]}, headers=auth
        )
        assert dojo.status_code == 201, dojo.text
        dojo_id = dojo.json()["id"]

        # The refresh token from node 1 is redeemed on node 3; the new token works on node 1 and node 2.
        refreshed, _ = _bearer(
            await node3.post("/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh})
        )
        for node in (node1, node2):
            assert (await node.get(f"/v1/dojos/{dojo_id}", headers=refreshed)).status_code == 200

        # The dojo's document, edited by two real y-websocket clients on nodes 2 and 3 (tickets each got there).
        tickets = []
        for node, headers in ((node2, auth), (node3, refreshed)):
            ticket = await node.post(f"/v1/dojos/{dojo_id}/tickets", headers=headers)
            assert ticket.status_code == 201, ticket.text
            tickets.append(ticket.json())
        assert [t["collab_url"] for t in tickets] == [f"ws://127.0.0.1:{cluster.ports[i]}/v1/collab" for i in (1, 2)]
        async with (
            JsClient.start(tickets[0]["collab_url"], dojo_id, params={"ticket": tickets[0]["ticket"]}) as on2,
            JsClient.start(tickets[1]["collab_url"], dojo_id, params={"ticket": tickets[1]["ticket"]}) as on3,
        ):
            await on2.wait_synced(within=30)
            await on3.wait_synced(within=30)
            await on2.insert(0, "from node 2;")
            await on3.wait_text("from node 2;", within=15)
            await on3.insert(len("from node 2;"), " from node 3")
            await on2.wait_text("from node 2; from node 3", within=15)
