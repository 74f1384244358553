"""runtime.ports.free_port never hands the same port out twice in one process."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from runtime import ports


def test_ports_handed_out_are_distinct_and_bindable() -> None:
    handed = [ports.free_port() for _ in range(200)]
    assert len(set(handed)) == len(handed)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", handed[-1]))


def test_a_port_the_kernel_gives_again_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel may give the port just released to the next bind to port 0 (CI saw two nodes get
    # the same port). The probe is replaced to make that happen every time.
    given: Iterator[int] = iter([41001, 41001, 41001, 41002])
    monkeypatch.setattr(ports, "_handed_out", {})
    monkeypatch.setattr(ports, "_probe", lambda host: next(given))
    assert ports.free_port() == 41001
    assert ports.free_port() == 41002


def test_only_repeated_ports_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ports, "_handed_out", {("127.0.0.1", 41001): None})
    monkeypatch.setattr(ports, "_probe", lambda host: 41001)
    with pytest.raises(ports.NoFreePortError, match=r"64 probes on 127\.0\.0\.1"):
        ports.free_port()


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    given = iter(range(42000, 42010))
    monkeypatch.setattr(ports, "_handed_out", {})
    monkeypatch.setattr(ports, "REMEMBERED", 4)
    monkeypatch.setattr(ports, "_probe", lambda host: next(given))
    for _ in range(6):
        ports.free_port()
    assert list(ports._handed_out) == [("127.0.0.1", p) for p in range(42002, 42006)]
