"""`pocdojo dev --nodes 2`: two node processes on consecutive ports sharing an embedded Redis and an
embedded PostgreSQL; clients of one room on both converge; SIGTERM stops the nodes, Redis and
PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
from pathlib import Path
from urllib.parse import urlencode

import psutil
import pytest

from dojo.tickets import TicketSigner
from tests.cluster.conftest import POCDOJO, _die_with_parent, wait_for
from tests.cluster.editing import Editor, check_document, edit_continuously, running

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


@pytest.mark.slow
async def test_pocdojo_dev_nodes_2(server_dir: Path) -> None:
    port = consecutive_free_ports(2)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "POCDOJO_TICKET_SECRET")}
    log_path = server_dir / "dev.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            str(POCDOJO),
            "dev",
            "--nodes",
            "2",
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
        ports = [port, port + 1]

        def started() -> bool:
            text = log_path.read_text(errors="replace")
            if proc.returncode is not None:
                raise AssertionError(f"pocdojo dev exited with {proc.returncode}:\n{text[-3000:]}")
            return len(NODE_LINE.findall(text)) == 2 and all(_listening(p) for p in ports)

        await wait_for(started, 120, "both nodes listen", interval=0.2, detail=lambda: log_path.read_text()[-2000:])
        log_text = log_path.read_text(errors="replace")
        redis_match = REDIS_LINE.search(log_text)
        assert redis_match, log_text[-2000:]
        redis_port = int(redis_match[1])

        secret = (server_dir / "state" / "ticket-secret").read_text().strip()
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

            await wait_for(converged, 15, "clients on both nodes converge")

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        # Everything it started is gone: both nodes, Redis, PostgreSQL.
        assert not any(_listening(p) for p in [*ports, redis_port])
        assert not (server_dir / "state" / "pg" / "data" / "postmaster.pid").exists()
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
