"""A server subprocess on a free loopback port, in its own process group.

Every benchmark starts and stops its servers through `Server`: started with `spawn` (or `start`,
which also waits until it answers and stops it if it never does), always stopped by its
process-group id, so that gunicorn's workers go with their master and nothing else is touched.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from _paths import ROOT
from _report import log

LOOPBACK = "127.0.0.1"
SCIM_JSON = "application/scim+json"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _stat_fields(pid: int | str) -> list[str]:
    """/proc/<pid>/stat after the command name (whose parentheses may hold spaces): field 3 first."""
    return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()


@dataclass
class Server:
    """A server subprocess (its own process group) and how to talk to it."""

    name: str
    base_url: str            # the API base, e.g. http://127.0.0.1:PORT/scim/v2, or the server's root
    token: str
    proc: subprocess.Popen
    log_path: Path
    notes: dict = field(default_factory=dict)

    @classmethod
    def spawn(cls, name: str, argv: list[str], base_url: str, token: str, log_path: Path, *, cwd: Path = ROOT,
              env: dict | None = None, append: bool = False, notes: dict | None = None) -> Server:
        """Start `argv` in its own process group, its output to log_path (appended to with `append`,
        for a log that servers started one after another share); not waited for."""
        with open(log_path, "ab" if append else "wb") as out:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        return cls(name, base_url, token, proc, log_path, notes=notes if notes is not None else {})

    @classmethod
    def start(cls, name: str, argv: list[str], base_url: str, token: str, log_path: Path, **kw) -> Server:
        """`spawn`, then `ready`: a server that answers, or an error and no process left behind."""
        return cls.spawn(name, argv, base_url, token, log_path, **kw).ready()

    def ready(self, timeout: float = 60.0, probe: Callable[[str], httpx.Response] | None = None) -> Server:
        """`wait_ready`, stopping the server if it never gets there; the server."""
        try:
            self.wait_ready(timeout, probe)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def url(self) -> str:
        """The server's root, e.g. http://127.0.0.1:PORT (base_url without its path)."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def port(self) -> int:
        return urlsplit(self.base_url).port

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": SCIM_JSON, "Accept": SCIM_JSON}

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=self.headers, timeout=timeout)

    def wait_ready(self, timeout: float = 60.0, probe: Callable[[str], httpx.Response] | None = None) -> None:
        """Poll until the server answers 200 (bounded in time): `probe(self.url)` when given (a request
        the benchmark itself makes), else GET /ServiceProviderConfig under base_url."""
        deadline = time.monotonic() + timeout
        last = None
        for _ in range(int(timeout / 0.1) + 1):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log:\n{self.tail_log()}")
            try:
                r = probe(self.url) if probe else \
                    httpx.get(f"{self.base_url}/ServiceProviderConfig", headers=self.headers, timeout=2)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as e:
                last = repr(e)
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout}s ({last}); log:\n{self.tail_log()}")

    def tail_log(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def check_alive(self) -> bool:
        """False (and a note) when the server exited before we stopped it."""
        code = self.proc.poll()
        if code is not None and "exited_early" not in self.notes:
            self.notes["exited_early"] = f"exit status {code} before the end of the run"
            log(f"!! {self.name} exited on its own (status {code}); log:\n{self.tail_log()}")
        return code is None

    def stop(self) -> None:
        """SIGTERM the server's process group (gunicorn master and workers), then SIGKILL if needed."""
        self.check_alive()
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        # Workers of a killed master could outlive it; the group id is still ours.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def process_ids(self) -> list[int]:
        """The pids of the server's process group (for CPU accounting)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields_ = _stat_fields(entry.name)
            except OSError:
                continue
            if int(fields_[2]) == self.proc.pid:  # field 5: pgrp
                pids.append(int(entry.name))
        return pids

    def worker_pids(self) -> list[int]:
        """The pids of the group whose parent is the server's first process: gunicorn's workers."""
        pids = []
        for pid in self.process_ids():
            try:
                fields_ = _stat_fields(pid)
            except OSError:
                continue
            if int(fields_[1]) == self.proc.pid:  # field 4: ppid
                pids.append(pid)
        return sorted(pids)

    def wait_workers(self, n: int, timeout: float = 20.0) -> int:
        """Wait until the master has n workers (the first may answer before the others boot); how many it has."""
        deadline = time.monotonic() + timeout
        while len(self.worker_pids()) != n and time.monotonic() < deadline:
            time.sleep(0.1)
        return len(self.worker_pids())

    def cpu_seconds(self) -> float:
        """User+system CPU seconds used so far by the live processes of the server's group."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.process_ids():
            try:
                f = _stat_fields(pid)
                total += int(f[11]) + int(f[12])  # utime, stime
            except (OSError, IndexError):
                pass
        return total / tick
