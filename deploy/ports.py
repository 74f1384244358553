"""Whether `pocdojo dev` can listen where it was asked to, checked before anything starts."""

from __future__ import annotations

import socket


class PortBusy(Exception):
    """The port is taken; the message says which free port to use instead."""

    def __init__(self, host: str, port: int, suggestion: int | None) -> None:
        self.host, self.port, self.suggestion = host, port, suggestion
        fix = (
            f": run `make run PORT={suggestion}` (or `pocdojo dev --port {suggestion}`)"
            if suggestion is not None
            else ": stop what listens there or pick another port with `make run PORT=...`"
        )
        super().__init__(f"port {port} is busy on {host}{fix}")


def port_free(host: str, port: int) -> bool:
    """Whether a server could bind `host:port` now (as uvicorn binds: with SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports(host: str, first: int, count: int = 1) -> None:
    """Raise `PortBusy` unless ports `first .. first+count-1` are free, suggesting the next free run of them."""
    busy = [port for port in range(first, first + count) if not port_free(host, port)]
    if not busy:
        return
    suggestion = next(
        (
            start
            for start in range(busy[-1] + 1, min(busy[-1] + 200, 65536 - count))
            if all(port_free(host, p) for p in range(start, start + count))
        ),
        None,
    )
    raise PortBusy(host, busy[0], suggestion)
