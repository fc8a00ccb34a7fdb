"""A PostgreSQL server for tests: the one named by ``DUALCARD_TEST_PG_URL``, or a throwaway
cluster started from Debian's ``postgresql`` package.

The throwaway cluster lives in a temporary directory: ``initdb`` (as the ``postgres`` user via
``runuser`` when we are root, since PostgreSQL refuses to run as root; as ourselves
otherwise), ``pg_ctl start`` on a free localhost port with its unix socket in the same
directory, ``createdb``; :meth:`ThrowawayPostgres.stop` (also registered with ``atexit``)
stops it and removes the directory.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from apdu_specs.errors import RemoteError

__all__ = [
    "ENV_URL",
    "PostgresUnavailable",
    "ThrowawayPostgres",
    "find_pg_bin",
    "postgres_url",
]

ENV_URL = "DUALCARD_TEST_PG_URL"
_DB_NAME = "dualcard_test"
_SERVICE_USER = "postgres"


class PostgresUnavailable(RemoteError, RuntimeError):
    """No server named and none can be started here; the message says why."""


def find_pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and pg_ctl."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit()
        else 0,
    )
    for initdb in reversed(candidates):
        bin_dir = Path(initdb).parent
        if (bin_dir / "pg_ctl").exists() and (bin_dir / "createdb").exists():
            return bin_dir
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayPostgres:
    """A private PostgreSQL cluster, started on construction."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="dualcard-pg-"))
        self.data = self.root / "data"
        self.as_root = os.geteuid() == 0
        self._started = False
        try:
            if self.as_root:
                shutil.chown(self.root, user=_SERVICE_USER, group=_SERVICE_USER)
            self._run("initdb", "-D", str(self.data), "-U", _SERVICE_USER, "-A", "trust",
                      "-E", "UTF8", "--no-sync")
            options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=60")
            self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                      "-o", options, "-w", "-t", "60", "start")
            self._started = True
            self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U",
                      _SERVICE_USER, _DB_NAME)
        except (OSError, subprocess.CalledProcessError, LookupError) as exc:
            self.stop()
            raise PostgresUnavailable(f"could not start a throwaway cluster: {_why(exc)}") from exc
        atexit.register(self.stop)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{_SERVICE_USER}@127.0.0.1:{self.port}/{_DB_NAME}"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", _SERVICE_USER, "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120,
                       cwd=self.root)

    def stop(self) -> None:
        """Stop the server and delete its directory (idempotent)."""
        if self._started:
            self._started = False
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _why(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        output = (exc.stderr or exc.stdout or "").strip().splitlines()
        return f"{Path(str(exc.cmd[-1])).name if exc.cmd else '?'}: {output[-1] if output else exc}"
    return str(exc)


def postgres_url() -> tuple[str, ThrowawayPostgres | None]:
    """(URL, cluster to stop or None). Raises :class:`PostgresUnavailable` with the reason
    when no URL is set and no cluster can be started."""
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        return url, None
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise PostgresUnavailable(
            f"{ENV_URL} is not set and Debian's postgresql is not installed "
            "(apt-get install postgresql)"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        raise PostgresUnavailable("running as root but runuser is missing")
    cluster = ThrowawayPostgres(bin_dir)
    return cluster.url, cluster
