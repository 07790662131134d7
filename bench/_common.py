"""Shared helpers of bench/scim_peer.py, bench/scim_scale.py and bench/check_http.py.

Servers run as subprocesses on free loopback ports, in their own process group, and are always
stopped by their process-group id; PostgreSQL databases made here are named `bench_scim_*` and
dropped at the end. Progress goes to stderr; stdout is left to the table and the final JSON line.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent          # the repository (wsgi.py, config/, migrations/)
BENCH_DIR = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent                       # the venv's bin: flask, gunicorn, scim2-server
LOOPBACK = "127.0.0.1"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SCIM_JSON = "application/scim+json"


def log(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def rnd(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def user_body(user_name: str, display: str | None = None) -> dict:
    """The POST /Users body every benchmark sends (and the shape scim_scale stores directly)."""
    return {"schemas": [USER_SCHEMA], "userName": user_name, "displayName": display or user_name.split("@")[0],
            "active": True, "emails": [{"value": user_name, "type": "work"}]}


def patch_add_member(member_id: str) -> dict:
    return {"schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": member_id}]}]}


def patch_remove_member(member_id: str) -> dict:
    """The Okta form: a value filter on members."""
    return {"schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "remove", "path": f'members[value eq "{member_id}"]'}]}


# ---- PostgreSQL ------------------------------------------------------------------------------

def _libpq_url(url: str) -> str:
    """postgresql+psycopg://… or postgres://… as a URL psycopg.connect() takes."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def database_url_for(server_url: str, dbname: str) -> str:
    """The same server, another database; psycopg 3 driver for SQLAlchemy."""
    parts = urlsplit(_libpq_url(server_url))
    return urlunsplit(("postgresql+psycopg", parts.netloc, "/" + dbname, parts.query, ""))


class PgDatabase:
    """A scratch database `bench_scim_*` on a PostgreSQL server, created fresh and dropped on close."""

    def __init__(self, server_url: str, name: str):
        if not name.startswith("bench_scim") or not name.replace("_", "").isalnum():
            raise ValueError("benchmark databases are named bench_scim_*")
        host = urlsplit(_libpq_url(server_url)).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"only loopback PostgreSQL servers are used, not {host!r}")
        self.server_url, self.name = server_url, name
        self.url = database_url_for(server_url, name)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(_libpq_url(self.server_url), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def create(self) -> "PgDatabase":
        # Our own name only: a left-over of an interrupted run of this script.
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def drop(self) -> None:
        try:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception as e:  # noqa: BLE001 - reported, the run goes on
            log(f"!! could not drop database {self.name}: {e}")


# ---- our server ------------------------------------------------------------------------------

def flask_cli(args: list[str], database_url: str, timeout: float = 300) -> str:
    """Run `flask --app wsgi …` against a database; its stdout."""
    env = {**os.environ, "DATABASE_URL": database_url}
    proc = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}")
    return proc.stdout


def prepare_our_database(database_url: str, tenant_key: str = "bench") -> str:
    """Migrate (the real schema and indexes), create a tenant, issue a SCIM token; the token."""
    flask_cli(["db", "upgrade"], database_url)
    flask_cli(["tenants", "create", tenant_key, "--name", "Benchmark tenant"], database_url)
    out = flask_cli(["tokens", "issue", tenant_key, "--name", "benchmark"], database_url)
    token = out.strip().splitlines()[-1].strip()
    if not token.startswith("scim_"):
        raise RuntimeError(f"unexpected output of tokens issue: {out!r}")
    return token


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
              env: dict | None = None, append: bool = False, notes: dict | None = None) -> "Server":
        """Start `argv` in its own process group, its output to log_path (appended to with `append`,
        for a log that servers started one after another share); not waited for."""
        with open(log_path, "ab" if append else "wb") as out:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        return cls(name, base_url, token, proc, log_path, notes=notes if notes is not None else {})

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
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields_ = stat.rsplit(")", 1)[1].split()
            if int(fields_[2]) == self.proc.pid:  # field 5: pgrp
                pids.append(int(entry.name))
        return pids

    def worker_pids(self) -> list[int]:
        """The pids of the group whose parent is the server's first process: gunicorn's workers."""
        pids = []
        for pid in self.process_ids():
            try:
                fields_ = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
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
                f = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
                total += int(f[11]) + int(f[12])  # utime, stime
            except (OSError, IndexError):
                pass
        return total / tick


def gunicorn_defaults() -> dict:
    """What config/gunicorn.conf.py gives without WEB_CONCURRENCY / GUNICORN_THREADS set."""
    import multiprocessing

    threads = int(os.environ.get("GUNICORN_THREADS", 1))
    return {"workers": int(os.environ.get("WEB_CONCURRENCY", 2 * max(1, multiprocessing.cpu_count()))),
            "threads": threads, "worker_class": "gthread" if threads > 1 else "sync"}


def start_our_server(name: str, database_url: str, token: str, log_dir: Path, extra_env: dict | None = None) -> Server:
    """`gunicorn -c config/gunicorn.conf.py wsgi:app` on a free loopback port.

    ACCESS_LOG is set to /dev/null, which every version of the config accepts (before commit
    ce042d1 an empty ACCESS_LOG reached gunicorn as '' and it refused to start: "'' isn't writable").
    """
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "BIND": f"{LOOPBACK}:{port}", "ACCESS_LOG": "/dev/null",
           **(extra_env or {})}
    return _serve(name, port, token, log_dir, env, ["-c", "config/gunicorn.conf.py", "wsgi:app"],
                  {"server": "gunicorn -c config/gunicorn.conf.py wsgi:app", **gunicorn_defaults()})


def _serve(name: str, port: int, token: str, log_dir: Path, env: dict, args: list[str], notes: dict) -> Server:
    """gunicorn `args` from the repository root, its own process group, ready when it answers."""
    # --name only labels the processes (proc_name); it also keeps a `pkill -f "…conf.py wsgi:app"`
    # aimed at someone else's server from stopping ours mid-run.
    server = Server.spawn(name, [str(BIN / "gunicorn"), "--name", f"bench-{name}", *args],
                          f"http://{LOOPBACK}:{port}/scim/v2", token, log_dir / f"{name}.log", env=env, notes=notes)
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


# ---- the Flask floor: bench/bare_scim_app.py ---------------------------------------------------

# gunicorn's server hooks: config/gunicorn.conf.py's `when_ready` warms up our engine (it needs our
# app's database) and `worker_exit` flushes our decision log, so the floor's copy drops them.
GUNICORN_HOOKS = ("on_starting", "on_reload", "when_ready", "pre_fork", "post_fork", "post_worker_init",
                  "worker_int", "worker_abort", "pre_exec", "pre_request", "post_request", "child_exit",
                  "worker_exit", "nworkers_changed", "on_exit", "ssl_context")


def write_floor_config(log_dir: Path) -> Path:
    """config/gunicorn.conf.py, evaluated by gunicorn in the server's own environment (so the same
    bind, workers, threads, worker class, keep-alive, timeout, preload and access log), minus its
    server hooks. bench/check_http.py serves bench/bare_app.py with it too."""
    path, config = log_dir / "floor_gunicorn.conf.py", str(ROOT / "config" / "gunicorn.conf.py")
    path.write_text(
        "# Generated by bench/_common.py: config/gunicorn.conf.py minus gunicorn's server hooks\n"
        "# (ours warm up our engine and flush our decision log; the floor has neither).\n"
        "import runpy as _runpy\n"
        f"_HOOKS = {GUNICORN_HOOKS!r}\n"
        f"globals().update({{_k: _v for _k, _v in _runpy.run_path({config!r}).items()\n"
        "                  if not _k.startswith('_') and _k not in _HOOKS})\n")
    return path


def start_floor_server(name: str, token: str, log_dir: Path) -> Server:
    """bench/bare_scim_app.py served as start_our_server serves ours: gunicorn from the repository
    root with config/gunicorn.conf.py (a copy without its server hooks, which need our app), the
    same environment (BIND on a free loopback port, ACCESS_LOG=/dev/null), the same wait_ready:

        gunicorn -c <config/gunicorn.conf.py minus hooks> --pythonpath bench bare_scim_app:app

    It keeps no state and checks no token beyond requiring a Bearer header; `token` is what the
    client sends."""
    port = free_port()
    conf = write_floor_config(log_dir)
    env = {**os.environ, "BIND": f"{LOOPBACK}:{port}", "ACCESS_LOG": "/dev/null"}
    return _serve(name, port, token, log_dir, env, ["-c", str(conf), "--pythonpath", "bench", "bare_scim_app:app"],
                  {"server": "gunicorn -c <config/gunicorn.conf.py minus its server hooks> "
                             "--pythonpath bench bare_scim_app:app",
                   **gunicorn_defaults(), "storage": "none (answers computed from the request)"})


# ---- the peer: scim2-server ------------------------------------------------------------------

def start_peer_cli(name: str, token: str, log_dir: Path) -> Server:
    """The peer as its docs serve it: `scim2-server --hostname 127.0.0.1 --port P --bearer-token T`.

    That is a wsgiref ThreadingWSGIServer (one process, a thread per request, HTTP/1.0 so one
    connection per request) over InMemoryStorage (an RLock serialises every storage operation;
    data lives only in the process's memory). Default RFC 7643 schemas and resource types.
    """
    port = free_port()
    server = Server.spawn(name, [str(BIN / "scim2-server"), "--hostname", LOOPBACK, "--port", str(port),
                                 "--bearer-token", token],
                          f"http://{LOOPBACK}:{port}/v2", token, log_dir / f"{name}.log", cwd=BENCH_DIR,
                          notes={"server": "scim2-server CLI (wsgiref ThreadingWSGIServer, HTTP/1.0)", "workers": 1,
                                 "threads": "one per request", "storage": "InMemoryStorage (memory only)"})
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


def peer_app():
    """A WSGI app built exactly as `scim2-server` builds its own (default schemas, resource types,
    service provider config plus the bearer scheme, InMemoryStorage, BearerTokenApplication); the
    token comes from BENCH_PEER_TOKEN. Served by gunicorn as `_common:peer_app()`, one worker only,
    since the data lives in that process's memory."""
    import secrets

    from scim2_models import ScimProvider
    from scim2_server.memory import InMemoryStorage
    from scim2_server.service import ScimService
    from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
    from scim2_server.utils import (load_default_resource_types, load_default_schemas,
                                    load_default_service_provider_config)

    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(load_default_schemas().values(), load_default_resource_types().values(),
                                           config=config, policy=None)
    service = ScimService(provider, secret=secrets.token_urlsafe(32))
    return BearerTokenApplication(InMemoryStorage(), provider, service=service,
                                  bearer_tokens=[os.environ["BENCH_PEER_TOKEN"]])


def start_peer_gunicorn(name: str, token: str, log_dir: Path, threads: int = 4) -> Server:
    """The same peer app under gunicorn: 1 gthread worker (in-memory data cannot span workers),
    HTTP/1.1 keep-alive; the fairest serving the peer's in-memory design allows."""
    port = free_port()
    env = {**os.environ, "BENCH_PEER_TOKEN": token}
    server = Server.spawn(name, [str(BIN / "gunicorn"), "--bind", f"{LOOPBACK}:{port}", "--workers", "1",
                                 "--threads", str(threads), "--worker-class", "gthread", "--keep-alive", "5",
                                 "--pythonpath", str(BENCH_DIR), "_common:peer_app()"],
                          f"http://{LOOPBACK}:{port}/v2", token, log_dir / f"{name}.log", cwd=BENCH_DIR, env=env,
                          notes={"server": "gunicorn _common:peer_app() (scim2-server WSGIApplication)",
                                 "workers": 1, "threads": threads, "storage": "InMemoryStorage (memory only)"})
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    return server


# ---- running requests ------------------------------------------------------------------------

@dataclass
class RunResult:
    requests: int = 0            # attempted
    ok: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    timed_out: bool = False
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = None
    machine_busy_s: float | None = None   # every CPU of the machine (others' work included)

    def add_error(self, msg: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(msg[:300])


def machine_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot (user+nice+system+irq+softirq+steal)."""
    f = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in f[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


Check = Callable[[httpx.Client, Any], str | None]   # does one request; None when right, else the error


def run_requests(server: Server, items: list, do: Check, threads: int, time_limit: float) -> RunResult:
    """Run `do(client, item)` for every item, with `threads` threads (an httpx.Client each; 1 = sequential).

    Items are dealt round-robin; the clock starts when every thread is ready and stops when the
    last finishes. A thread stops early past `time_limit` seconds (the result is then marked
    timed_out and is not throughput).
    """
    threads = max(1, min(threads, len(items))) if items else 1
    result = RunResult()
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)
    clients = [server.client() for _ in range(threads)]
    start_box: list[float] = []

    def worker(k: int) -> None:
        client = clients[k]
        mine = items[k::threads]
        lat, errs, ok, n, timed_out = [], [], 0, 0, False
        barrier.wait()
        deadline = start_box[0] + time_limit if start_box else time.perf_counter() + time_limit
        for item in mine:
            if time.perf_counter() > deadline:
                timed_out = True
                break
            t0 = time.perf_counter()
            try:
                err = do(client, item)
            except Exception as e:  # noqa: BLE001 - a transport error is an error of the row
                err = f"{type(e).__name__}: {e}"
            lat.append((time.perf_counter() - t0) * 1000)
            n += 1
            if err is None:
                ok += 1
            else:
                errs.append(err)
        with lock:
            result.requests += n
            result.ok += ok
            result.latencies_ms += lat
            result.timed_out = result.timed_out or timed_out
            for e in errs:
                result.add_error(e)

    pool = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    cpu0, scpu0, busy0 = os.times(), server.cpu_seconds(), machine_busy_seconds()
    start_box.append(time.perf_counter())
    barrier.wait()
    for t in pool:
        t.join(time_limit + 60)
    result.elapsed = time.perf_counter() - start_box[0]
    cpu1 = os.times()
    result.client_cpu_s = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    result.server_cpu_s = server.cpu_seconds() - scpu0
    result.machine_busy_s = machine_busy_seconds() - busy0
    if any(t.is_alive() for t in pool):
        result.timed_out = True
    for c in clients:
        c.close()
    return result


def expect(r: httpx.Response, *statuses: int) -> str | None:
    if r.status_code in statuses:
        return None
    return f"{r.request.method} {r.request.url.path} -> {r.status_code}: {r.text[:200]}"


def product_state(diff_hash: bool = False) -> dict:
    """Which code was measured: the commit, and whether the product's files differ from it. With
    `diff_hash`, also a short hash of that difference, so that states with the same number of
    changed files but different edits compare unequal."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    paths = ("scim_authz", "migrations", "config", "wsgi.py")
    changed = git("status", "--porcelain", "--", *paths).splitlines()
    state = {"git_head": git("rev-parse", "--short", "HEAD") or None, "uncommitted_product_files": len(changed)}
    if diff_hash:
        diff = git("diff", "HEAD", "--", *paths)
        state["uncommitted_diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest()[:12] if diff else None
    return state


def emit_json(obj: dict) -> None:
    """The last line of stdout: one JSON object."""
    sys.stdout.flush()
    print(json.dumps(obj, separators=(",", ":"), sort_keys=False), flush=True)
