"""Server specs for the benchmark: how to start each server, how it says it is ready, how to reach a room.

A server is a subprocess started from a command line in its own process group (so that everything it
spawns is stopped with it). It is ready when a stdout line parsed by ``spec.ready`` yields its WebSocket
base URL; clients open ``<base>/<room>?<query>``. The room path and query parameters come from the
spec's ``hooks`` (callables, once per connection) or from a ``PARAMS <json>`` line the server printed
before its ready line.
A server that exits or stays silent before it is ready raises ``ServerStartError`` with its last output
lines; the harness reports it as skipped and goes on with the others.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import psutil

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
ANCHORS = BENCH / "anchors"
ANCHORS_VENV = ANCHORS / "venv"
ANCHORS_PYTHON = ANCHORS_VENV / "bin" / "python"
ANCHOR_REQUIREMENTS = ("pycrdt-websocket==0.16.5", "uvicorn[standard]==0.54.0")
NODE_MODULES = REPO / "tests" / "js" / "node_modules"
NODE_SERVER = NODE_MODULES / "@y" / "websocket-server" / "src" / "server.js"

QueryParams = Callable[[str, int, Mapping[str, Any]], dict[str, str]]
RoomPath = Callable[[str, Mapping[str, Any]], str]


@dataclass(frozen=True)
class Hooks:
    """Optional per-connection hooks of a server runner (see ``bench/servers/ours.py``)."""

    query_params: QueryParams | None = None
    room_path: RoomPath | None = None


class ServerStartError(Exception):
    """A server could not be set up or did not print its ready line."""


def ready_line(line: str, port: int) -> str | None:
    """The harness's own convention: ``READY <ws-base-url>``."""
    if line.startswith("READY "):
        return line.split(None, 1)[1].strip().rstrip("/")
    return None


_NODE_READY = re.compile(r"running at '([^']+)' on port (\d+)")


def node_ready(line: str, port: int) -> str | None:
    """``@y/websocket-server`` prints ``running at '<host>' on port <port>``."""
    m = _NODE_READY.search(line)
    return f"ws://{m[1]}:{m[2]}" if m else None


@dataclass(frozen=True)
class ServerSpec:
    name: str
    label: str
    argv: Callable[[int], list[str]]
    ready: Callable[[str, int], str | None] = ready_line
    env: Mapping[str, str] = field(default_factory=dict)
    setup: Callable[[], None] | None = None
    hooks: Callable[[], Hooks] | None = None
    versions: Callable[[], dict[str, str]] = dict
    stop_timeout: float = 15.0


def _npm_version(package: str) -> str:
    data = json.loads((NODE_MODULES / package / "package.json").read_text())
    return str(data["version"])


def _node_versions() -> dict[str, str]:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return {
        "node": node,
        "@y/websocket-server": _npm_version("@y/websocket-server"),
        "ws": _npm_version("ws"),
        "yjs": _npm_version("yjs"),
    }


def _node_setup() -> None:
    if shutil.which("node") is None:
        raise ServerStartError("node is not on PATH")
    if not NODE_SERVER.exists():
        raise ServerStartError(f"{NODE_SERVER} missing: run `npm ci --prefix tests/js`")


def ensure_anchors_venv() -> None:
    """Create ``bench/anchors/venv`` with pycrdt-websocket and uvicorn unless it already matches."""
    stamp = ANCHORS_VENV / "bench-requirements.txt"
    wanted = "\n".join(ANCHOR_REQUIREMENTS) + "\n"
    if ANCHORS_PYTHON.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    python = shutil.which("python3") or sys.executable
    print(f"[setup] creating {ANCHORS_VENV.relative_to(REPO)} with {' '.join(ANCHOR_REQUIREMENTS)}", flush=True)
    ANCHORS.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([python, "-m", "venv", "--clear", str(ANCHORS_VENV)], check=True)
        subprocess.run(
            [
                str(ANCHORS_PYTHON),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *ANCHOR_REQUIREMENTS,
            ],
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        raise ServerStartError(f"could not build the anchors venv: {exc}") from exc
    stamp.write_text(wanted)


def _anchors_versions() -> dict[str, str]:
    out = subprocess.run(
        [str(ANCHORS_PYTHON), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    keep = {"pycrdt-websocket", "pycrdt", "uvicorn", "websockets", "uvloop", "anyio"}
    return {p["name"]: p["version"] for p in json.loads(out) if p["name"].lower() in keep}


OURS_RUNNER = BENCH / "servers" / "ours.py"


def _ours_hooks() -> Hooks:
    """``query_params`` and ``room_path`` from ``bench/servers/ours.py``, where the runner defines them."""
    module_spec = importlib.util.spec_from_file_location("bench_ours_runner", OURS_RUNNER)
    if module_spec is None or module_spec.loader is None:
        raise ServerStartError(f"cannot import {OURS_RUNNER}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    query_params = getattr(module, "query_params", None)
    room_path = getattr(module, "room_path", None)
    return Hooks(query_params if callable(query_params) else None, room_path if callable(room_path) else None)


def _ours_versions() -> dict[str, str]:
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {"repo_commit": commit or "unknown"}


SPECS: dict[str, ServerSpec] = {
    "node": ServerSpec(
        name="node",
        label="Node @y/websocket-server",
        argv=lambda port: ["node", str(NODE_SERVER)],
        env={"HOST": "127.0.0.1"},
        ready=node_ready,
        setup=_node_setup,
        versions=_node_versions,
    ),
    "pycrdt": ServerSpec(
        name="pycrdt",
        label="pycrdt-websocket",
        argv=lambda port: [str(ANCHORS_PYTHON), str(BENCH / "servers" / "pycrdt_ws.py"), "--port", str(port)],
        setup=ensure_anchors_venv,
        versions=_anchors_versions,
    ),
    "ours": ServerSpec(
        name="ours",
        label="ours",
        argv=lambda port: [sys.executable, str(OURS_RUNNER), "--port", str(port)],
        hooks=_ours_hooks,
        versions=_ours_versions,
    ),
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_PR_SET_PDEATHSIG = 1
MARKER_ENV = "COLLAB_LOAD_SERVER"


def _marked(marker: str) -> list[psutil.Process]:
    """Processes whose environment carries this server's marker: its descendants, including daemons
    that left its process group (e.g. an embedded PostgreSQL started with its own session)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARKER_ENV) == marker:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue  # gone, or not ours to read: not a descendant we started
    return found


def _child_setup() -> None:
    """In the child before exec: die with the harness even if the harness is SIGKILLed (Linux)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ServerProcess:
    """A running server (context manager): started in its own process group, stopped with its whole group."""

    def __init__(self, spec: ServerSpec, start_timeout: float = 30.0) -> None:
        self.spec = spec
        self.start_timeout = start_timeout
        self.port = free_port()
        self.base_url = ""
        self.params: dict[str, Any] = {}
        self.tail: deque[str] = deque(maxlen=40)
        self._proc: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._hooks = Hooks()
        self._pending_params: dict[str, Any] = {}
        self.marker = f"{os.getpid()}-{uuid.uuid4().hex}"
        self.leftovers: list[str] = []
        self._marked_cache: list[psutil.Process] = []
        self._marked_at = -1e9

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def __enter__(self) -> ServerProcess:
        if self.spec.setup is not None:
            self.spec.setup()
        if self.spec.hooks is not None:
            self._hooks = self.spec.hooks()
        env = {**os.environ, "PORT": str(self.port), MARKER_ENV: self.marker, **self.spec.env}
        self._proc = subprocess.Popen(
            self.spec.argv(self.port),
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=_child_setup,
        )
        threading.Thread(target=self._read_output, name=f"{self.spec.name}-stdout", daemon=True).start()
        deadline = time.monotonic() + self.start_timeout
        try:
            while not self._ready.wait(0.05):
                if self._proc.poll() is not None:
                    time.sleep(0.1)  # let the reader thread collect the last lines
                    raise ServerStartError(f"exited with code {self._proc.returncode}: {self.last_output()}")
                if time.monotonic() > deadline:
                    raise ServerStartError(f"no ready line after {self.start_timeout:.0f} s: {self.last_output()}")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def last_output(self) -> str:
        return " | ".join(self.tail) or "(no output)"

    def _read_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for raw in self._proc.stdout:
            line = raw.rstrip("\n")
            if not self._ready.is_set():
                if line.startswith("PARAMS "):
                    self._pending_params = json.loads(line[len("PARAMS ") :])
                    continue
                url = self.spec.ready(line, self.port)
                if url is not None:
                    self.base_url = url
                    self.params = self._pending_params
                    self._ready.set()
                    continue
            self.tail.append(line)

    def url(self, room: str, index: int) -> str:
        """The URL connection ``index`` uses to join ``room``."""
        path = self._hooks.room_path(room, self.params) if self._hooks.room_path is not None else room
        if self._hooks.query_params is not None:
            query = self._hooks.query_params(path, index, self.params)
        else:
            query = {str(k): str(v).replace("{room}", path) for k, v in self.params.items()}
        return f"{self.base_url}/{path}" + (f"?{urlencode(query)}" if query else "")

    def processes(self) -> list[psutil.Process]:
        """The server's process tree: the process started and its descendants still in the tree."""
        root = psutil.Process(self.pid)
        return [root, *root.children(recursive=True)]

    def aux_processes(self) -> list[psutil.Process]:
        """Daemons the server started outside its tree (found by the env marker, e.g. an embedded
        PostgreSQL with its own session) and their descendants. Measured apart from the server."""
        now = time.monotonic()
        if now - self._marked_at > 10.0:  # a scan reads every process's environment: ~40 ms
            in_tree = {p.pid for p in self.processes()}
            self._marked_cache = [p for p in _marked(self.marker) if p.pid not in in_tree]
            self._marked_at = now
        seen: dict[int, psutil.Process] = {}
        for root in self._marked_cache:
            with contextlib.suppress(psutil.NoSuchProcess):  # a daemon that exited since the scan
                for proc in (root, *root.children(recursive=True)):
                    seen.setdefault(proc.pid, proc)
        return list(seen.values())

    @staticmethod
    def _cpu(procs: list[psutil.Process]) -> float:
        total = 0.0
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):  # exited between listing and reading
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's process tree (children it reaped included)."""
        return self._cpu(self.processes())

    def aux_cpu_seconds(self) -> float:
        return self._cpu(self.aux_processes())

    def rss_bytes(self) -> int:
        """Resident memory summed over the server's tree."""
        total = 0
        for proc in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def aux_pss_bytes(self) -> int | None:
        """Proportional set size summed over the daemons (RSS would count their shared memory once per
        process); None when the server has none."""
        procs = self.aux_processes()
        if not procs:
            return None
        total = 0
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_full_info().pss
        return total

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after ``spec.stop_timeout``; then end any process left
        behind that carries this server's environment marker (reported in ``leftovers``)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=self.spec.stop_timeout)
            except subprocess.TimeoutExpired:
                print(f"  [{self.spec.name}] did not stop within {self.spec.stop_timeout:.0f} s: SIGKILL", flush=True)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        # the group may still hold children of a runner that exited first
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        left = _marked(self.marker)
        if left:
            self.leftovers = [f"{p.pid} {' '.join(p.cmdline())[:80]}" for p in left]
            print(
                f"  [{self.spec.name}] left {len(left)} process(es) behind; ending them: {self.leftovers}", flush=True
            )
            for p in left:
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.terminate()
            _, alive = psutil.wait_procs(left, timeout=10)
            for p in alive:
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
