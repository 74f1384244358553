"""Load-generator worker for ``collab_cluster.py``: ``loadgen``'s clients and worker, plus one thing the
single-node benchmark does not need — every latency sample is filed as *same-node* (sender and receiver
connected to the same realtime node) or *cross-node* (the edit went node A → Redis → node B).

How: a client's node is the port of its URL. The orchestrator sends each worker the port of every
client tag (``{"op": "tag_ports", "ports": bytes}``, 2 bytes per tag); the marker in an update already
carries the sender's tag (see ``loadgen``'s module doc), so the receiver compares ports. ``load`` replies
with ``lat_same_us`` and ``lat_cross_us`` next to loadgen's ``latencies_us``.

Prepared edits: an editor's edit costs the generator ~37 µs of CPU (a ``pycrdt`` transaction on its
``Text`` and the update's encoding), which is more than a node spends per delivery; at 20 edits/s
per client over 600 clients that is a quarter of a 2-core host taken from the nodes it measures. The
``prepare`` command makes each editor's next edits before the step, with the same ``Doc`` in the same
order, a placeholder for the send time (12 zeros), each as the whole frame it will be sent in (a sync
update message, masked with a zero key: ``zero_key_frame``); ``send_edit`` writes the time in its place
(same length, so the update's bytes are those a live edit would make) and writes the frame: a send is
a slice, a join and a write, not an encoding and a masking (past saturation, sends grow with the rate
and took the share of the host the generator needs to read what the nodes sent). An editor with none
left edits live, as ``loadgen`` does. Prepared edits are in the editor's ``Doc`` before they are sent, so a
sync step 1 from the server after ``prepare`` (the server sends one only at connection) would be
answered with their placeholders: the client fails loudly instead.

``worker_main`` runs ``loadgen``'s command loop with these classes: ``loadgen._serve`` and
``loadgen.Worker.connect`` build ``Worker()`` and ``Client(...)`` by their module-global names, so this
process (which runs nothing else) points those names at the subclasses before starting the loop.

A worker first leaves the benchmark's session for one of its own (``os.setsid``), as each node does.
With the kernel's scheduler autogroups on (``/proc/sys/kernel/sched_autogroup_enabled``, the default of
many distributions), CPU time is shared fairly between *sessions*, not processes: left in the
benchmark's session, both workers, the orchestrator and Redis shared one group's time while each node
had a group of its own, and past saturation the clients got ~40 % of the host whatever they needed —
the clients' count fell while the nodes' did not. In sessions of their own every process competes as
it would with autogroups off (per process), closer to clients on other machines without favouring them.
"""

from __future__ import annotations

import math
import os
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

import loadgen
from loadgen import MARKER, OP_BINARY, Client, Stats, Worker, frame_head

from crdt import encode_sync_update

TIME_DIGITS = 12
"""The send time's hex digits in a marker (see ``loadgen``'s module doc)."""

ZERO_KEY = bytes(4)


def zero_key_frame(payload: bytes) -> bytes:
    """A client's binary frame whose masking key is zero: RFC 6455 (5.3) lets a client choose its key,
    and a zero key leaves the payload's bytes as they are, so a prepared frame's send time is written
    into the frame itself when it goes out, without encoding and masking it again. The server unmasks
    it like any other frame."""
    return frame_head(OP_BINARY, len(payload)) + ZERO_KEY + payload


@dataclass
class ClusterStats(Stats):
    """loadgen's counters plus the latency samples split by path."""

    tag_ports: array = field(default_factory=lambda: array("H"))  # type: ignore[type-arg]
    lat_same_us: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]
    lat_cross_us: array = field(default_factory=lambda: array("q"))  # type: ignore[type-arg]

    def reset_window(self, start: int, end: int) -> None:
        super().reset_window(start, end)
        self.lat_same_us = array("q")
        self.lat_cross_us = array("q")


class ClusterClient(Client):
    """loadgen's client; its latency samples also go to the same-node or cross-node list."""

    def __init__(self, stats: Stats, url: str, tag: int, client_id: int, role: str) -> None:
        super().__init__(stats, url, tag, client_id, role)
        self.port = urlsplit(url).port or 0
        self._prepared: deque[tuple[bytes, int]] = deque()  # (update, offset of its send time)
        self._ever_prepared = False

    def prepare(self, count: int) -> int:
        """Have ``count`` edits ready (made now, sent by :meth:`send_edit`); returns how many were made."""
        if self.text is None:
            return 0
        head = b"[%04x" % self.tag
        made = 0
        while len(self._prepared) < count:
            self.text += f"[{self.tag:04x}{'0' * TIME_DIGITS}]"
            frame = zero_key_frame(encode_sync_update(self._last_update))
            at = frame.rindex(head) + len(head)
            self._prepared.append((frame, at))
            made += 1
        self._ever_prepared = self._ever_prepared or made > 0
        return made

    def send_edit(self) -> None:
        if not self._prepared:
            super().send_edit()
            return
        frame, at = self._prepared.popleft()
        stamp = b"%012x" % (time.monotonic_ns() // 1000)
        self.send_frame(frame[:at] + stamp + frame[at + TIME_DIGITS :])

    def send_frame(self, frame: bytes) -> None:
        """Writes a whole frame (a prepared edit's)."""
        self._write(frame)

    def _on_message(self, payload: bytes, now: int) -> None:
        if self._ever_prepared and len(payload) > 1 and payload[0] == 0 and payload[1] == 0:
            self._fail("the server sent sync step 1 after edits were prepared (its answer would carry placeholders)")
            return
        super()._on_message(payload, now)

    def _on_update(self, payload: bytes, now: int) -> None:
        # loadgen's Client._on_update, with one more branch per marker (one regex scan, as there).
        st = self.stats
        assert isinstance(st, ClusterStats)
        st.rx_updates += 1
        st.last_rx_ns = now
        if self.collected is not None:
            super()._on_update(payload, now)
            return
        if st.window_start <= now < st.window_end:
            st.rx_window += 1
            now_us = now // 1000
            marked = False
            ports = st.tag_ports
            for m in MARKER.finditer(payload):
                marked = True
                sender = int(m[1], 16)
                if sender != self.tag:
                    latency = now_us - int(m[2], 16)
                    st.latencies_us.append(latency)
                    if sender < len(ports) and ports[sender] == self.port:
                        st.lat_same_us.append(latency)
                    else:
                        st.lat_cross_us.append(latency)
            if not marked:
                st.rx_unmarked_window += 1


class ClusterWorker(Worker):
    """loadgen's worker with :class:`ClusterStats`, the ``tag_ports`` command and split latencies."""

    def __init__(self) -> None:
        super().__init__()
        self.stats = ClusterStats()

    async def load(self, rate: float, t_start: int, t0: int, t1: int) -> dict[str, Any]:
        reply = await super().load(rate, t_start, t0, t1)
        st = self.stats
        assert isinstance(st, ClusterStats)
        reply["lat_same_us"] = st.lat_same_us.tobytes()
        reply["lat_cross_us"] = st.lat_cross_us.tobytes()
        return reply

    def close_all(self) -> dict[str, Any]:
        ports = self.stats.tag_ports if isinstance(self.stats, ClusterStats) else array("H")
        reply = super().close_all()
        self.stats = ClusterStats(tag_ports=ports)
        return reply

    def prepare(self, rate: float, seconds: float) -> dict[str, Any]:
        """Give every editor the edits of ``seconds`` at ``rate`` edits/s (plus one), made now."""
        count = math.ceil(rate * seconds) + 1
        cpu0 = time.process_time()
        made = sum(c.prepare(count) for c in self.clients.values() if isinstance(c, ClusterClient))
        return {"made": made, "cpu_seconds": time.process_time() - cpu0}

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        if cmd["op"] == "prepare":
            return self.prepare(cmd["rate"], cmd["seconds"])
        if cmd["op"] == "tag_ports":
            st = self.stats
            assert isinstance(st, ClusterStats)
            st.tag_ports = array("H")
            st.tag_ports.frombytes(cmd["ports"])
            return {"tags": len(st.tag_ports)}
        return await super().handle(cmd)


def worker_main(conn: Connection) -> None:
    """Entry point of a worker process (``multiprocessing`` spawn target): in a session of its own (see
    module doc), loadgen's loop with our classes."""
    os.setsid()
    loadgen.Worker = ClusterWorker  # type: ignore[misc]
    loadgen.Client = ClusterClient  # type: ignore[misc]
    loadgen.worker_main(conn)
