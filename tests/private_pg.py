"""A private PostgreSQL server for fault tests and benchmarks: `initdb` into a temporary directory,
served on its own loopback port, stopped and started again at will, removed at the end.

Fault tests stop the database under a running service; they do that to a server of their own, never
to a shared one. PostgreSQL refuses to run as root, so when this process is root the cluster
belongs to the `postgres` system user and its programs run through `runuser`.

    with PrivatePostgres() as pg:      # or PrivatePostgres.unavailable() first, to skip cleanly
        url = pg.create_database("faults")
        pg.stop(); ...; pg.start()     # same port, same data

Benchmarks import it too (bench/ puts the repository first on sys.path): `from tests.private_pg import
PrivatePostgres`.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
RUN_AS = "postgres"  # the system user the cluster belongs to when we are root
LOOPBACK = "127.0.0.1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free loopback port (trust authentication, user postgres)."""

    def __init__(self, pg_bin: Path = PG_BIN):
        self.pg_bin = Path(pg_bin)
        self.port = _free_port()
        self.dir: Path | None = None
        self._owner: pwd.struct_passwd | None = None

    @staticmethod
    def unavailable(pg_bin: Path = PG_BIN) -> str | None:
        """Why no private server can be started here (a reason to skip), or None."""
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (Path(pg_bin) / tool).is_file():
                return f"{Path(pg_bin) / tool} is missing (PostgreSQL server binaries; apt-get install postgresql)"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(RUN_AS)
            except KeyError:
                return f"running as root and there is no {RUN_AS!r} system user to run PostgreSQL as"
            if shutil.which("runuser") is None:
                return "running as root and runuser is missing"
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "psycopg is not installed"
        return None

    # -- the cluster's life ------------------------------------------------------------------

    def __enter__(self) -> PrivatePostgres:
        return self.init().start()

    def __exit__(self, *exc) -> None:
        self.cleanup()

    def _cmd(self, *argv: str) -> list[str]:
        if self._owner is not None:
            return ["runuser", "-u", self._owner.pw_name, "--", *argv]
        return list(argv)

    def _run(self, *argv: str, timeout: float = 60) -> str:
        proc = subprocess.run(self._cmd(*argv), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
                               f"{self._log_tail()}")
        return proc.stdout

    def _log_tail(self, n: int = 20) -> str:
        log = self.dir / "server.log" if self.dir else None
        if log is None or not log.exists():
            return ""
        return "\nserver log:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-n:])

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    def init(self) -> PrivatePostgres:
        """initdb into a fresh temporary directory (no fsync: a test's data need not survive power loss)."""
        self.dir = Path(tempfile.mkdtemp(prefix="private-pg-"))
        if os.geteuid() == 0:
            self._owner = pwd.getpwnam(RUN_AS)
            os.chown(self.dir, self._owner.pw_uid, self._owner.pw_gid)
        self._run(str(self.pg_bin / "initdb"), "-D", str(self.data_dir), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--locale=C", "--no-sync", timeout=120)
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            # fsync off only: a commit is still acknowledged after its WAL is written, so what a client was
            # told is committed survives a stop of the server (not a power loss, which no test makes).
            conf.write("\n# private server for fault tests\nfsync = off\nmax_connections = 100\n"
                       "shared_buffers = 32MB\n")
        return self

    def start(self, timeout: float = 60) -> PrivatePostgres:
        """Start the server on its port (the same one on every start), and wait until it accepts connections."""
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses={LOOPBACK}"
        self._run(str(self.pg_bin / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.dir / "server.log"),
                  "-o", opts, "-w", "-t", str(int(timeout)), "start", timeout=timeout + 10)
        return self

    def stop(self, mode: str = "fast", timeout: float = 60) -> None:
        """Stop the server: `fast` ends every session at once (what an outage looks like to a client)."""
        self._run(str(self.pg_bin / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "-t", str(int(timeout)),
                  "stop", timeout=timeout + 10)

    def running(self) -> bool:
        if self.dir is None or not self.data_dir.exists():
            return False
        proc = subprocess.run(self._cmd(str(self.pg_bin / "pg_ctl"), "-D", str(self.data_dir), "status"),
                              capture_output=True, text=True, stdin=subprocess.DEVNULL)
        return proc.returncode == 0

    def cleanup(self) -> None:
        """Stop the server if it runs (immediately) and remove its directory."""
        if self.dir is None:
            return
        try:
            if self.running():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # -- talking to it -----------------------------------------------------------------------

    def url(self, dbname: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        """A SQLAlchemy URL (or, with driver="postgresql", a libpq one) for a database of this server."""
        return f"{driver}://postgres@{LOOPBACK}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kw):
        """A psycopg connection (autocommit) to a database of this server."""
        import psycopg

        return psycopg.connect(self.url(dbname, "postgresql"), autocommit=True, connect_timeout=5, **kw)

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name` (a plain identifier); its SQLAlchemy URL."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"not a plain identifier: {name!r}")
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def query(self, sql: str, params=(), dbname: str = "postgres") -> list[tuple]:
        """Rows of one statement, on a connection of its own."""
        with self.connect(dbname) as conn:
            return conn.execute(sql, params).fetchall()

    def wait_accepting(self, timeout: float = 30) -> float:
        """Seconds until a connection succeeds (after a start, for instance)."""
        import psycopg

        t0 = time.monotonic()
        while True:
            try:
                with self.connect():
                    return time.monotonic() - t0
            except psycopg.OperationalError:
                if time.monotonic() - t0 > timeout:
                    raise
                time.sleep(0.05)
