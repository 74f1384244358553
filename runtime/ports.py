"""Free TCP ports for the servers this process starts (embedded services, test and bench nodes).

A port is free when the kernel hands it out for a bind to port 0, but only for a moment: the kernel
may hand the same port out again as soon as the probe socket is closed. Two servers given ports one
after the other could then both get the same one, and the second fails with "address already in
use". So this module remembers the ports it handed out (the most recent `REMEMBERED`) and never hands
one out twice. Another process can still take a port between the probe and the server's bind; that
race is the caller's to handle.
"""

from __future__ import annotations

import socket
import threading

REMEMBERED = 4096
PROBES = 64

_handed_out: dict[tuple[str, int], None] = {}
_lock = threading.Lock()


class NoFreePortError(OSError):
    """Every probe returned a port this process had already handed out."""


def _probe(host: str) -> int:
    """The port the kernel gives a bind to port 0 on `host` (released at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on `host` a moment ago and that this process has not handed out yet."""
    with _lock:
        for _ in range(PROBES):
            port = _probe(host)
            if (host, port) in _handed_out:
                continue
            _handed_out[(host, port)] = None
            if len(_handed_out) > REMEMBERED:
                del _handed_out[next(iter(_handed_out))]
            return port
    raise NoFreePortError(f"{PROBES} probes on {host} gave only ports already handed out")
