"""The sync worker keeps connections alive (scim_authz/ops/sync_worker.py): through a real gunicorn
started with config/gunicorn.conf.py and wsgi:app, one worker, raw sockets to see the connection."""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DATABASE_URL

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = [
    pytest.mark.skipif(DATABASE_URL.startswith("postgresql"), reason="the app server does not depend on the store"),
    pytest.mark.skipif(not hasattr(select, "EPOLLEXCLUSIVE"), reason="the worker keeps connections with Linux's epoll"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, **extra):
        self.port = _free_port()
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite'}", "SCIM_AUTHZ_INSTANCE": str(tmp),
               "WEB_CONCURRENCY": "1", "ACCESS_LOG": "", "SQLITE_SYNCHRONOUS": "OFF", **extra}
        env.pop("PUBLIC_BASE_URL", None)
        subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        self.proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                     env={**env, "BIND": f"127.0.0.1:{self.port}"}, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                with self.connect() as s:
                    s.sendall(_get("/healthz", close=True))
                    if b" 200 " in _read_response(s)[0]:
                        return
            except OSError:
                pass
            assert self.proc.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)

    def connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return s

    def stop(self) -> float:
        """SIGTERM; the seconds it took to exit."""
        started = time.monotonic()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=60)
        return time.monotonic() - started


def _get(path: str, close: bool = False) -> bytes:
    close_header = "Connection: close\r\n" if close else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{close_header}\r\n".encode()


def _read_response(s: socket.socket, buf: bytearray | None = None) -> tuple[bytes, bytes, bytearray]:
    """One response from `s` (its head, its body, and what was read past it)."""
    buf = buf if buf is not None else bytearray()
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, f"the server closed the connection before answering: {bytes(buf)!r}"
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    rest = bytearray(rest)
    while len(rest) < length:
        chunk = s.recv(65536)
        assert chunk, "the server closed the connection inside a body"
        rest += chunk
    return head, bytes(rest[:length]), bytearray(rest[length:])


def _closed_by_server(s: socket.socket, within: float) -> bool:
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except TimeoutError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("keepalive"), GUNICORN_KEEPALIVE="2")
    yield srv
    srv.stop()


def test_requests_on_one_connection_are_answered_on_it_and_close_is_honoured(server):
    with server.connect() as s:
        for _ in range(3):
            s.sendall(_get("/healthz"))
            head, body, rest = _read_response(s)
            assert head.startswith(b"HTTP/1.1 200") and b"Connection: keep-alive" in head, head
            assert json.loads(body) and not rest
        s.sendall(_get("/healthz", close=True))
        head, _, _ = _read_response(s)
        assert b"Connection: close" in head
        assert _closed_by_server(s, 5)


def test_requests_sent_together_are_answered_in_order(server):
    with server.connect() as s:
        s.sendall(_get("/healthz") + _get("/nowhere") + _get("/healthz"))
        heads, buf = [], bytearray()
        for _ in range(3):
            head, _, buf = _read_response(s, buf)
            heads.append(head.split(b"\r\n")[0])
        assert heads == [b"HTTP/1.1 200 OK", b"HTTP/1.1 404 NOT FOUND", b"HTTP/1.1 200 OK"]


def test_a_body_the_app_did_not_read_does_not_become_the_next_request(server):
    body = json.dumps({"userName": "x" * 5000}).encode()
    with server.connect() as s:
        # Refused at the token, before the body is read.
        s.sendall(b"POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/scim+json\r\n"
                  + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head, _, rest = _read_response(s)
        assert head.startswith(b"HTTP/1.1 401") and not rest
        s.sendall(_get("/healthz"))
        head, _, _ = _read_response(s)
        assert head.startswith(b"HTTP/1.1 200"), head


def test_an_idle_connection_is_closed_after_keepalive_seconds_and_does_not_hold_the_worker(server):
    idle = server.connect()
    try:
        idle.sendall(_get("/healthz"))
        _read_response(idle)
        # The one worker holds `idle`, and still takes a new connection at once.
        with server.connect() as other:
            started = time.monotonic()
            other.sendall(_get("/healthz"))
            head, _, _ = _read_response(other)
            assert head.startswith(b"HTTP/1.1 200") and time.monotonic() - started < 1.5
        assert not _closed_by_server(idle, 0.5)  # kept for now
        assert _closed_by_server(idle, 5)  # and closed once idle for 2 s
    finally:
        idle.close()


def test_keepalive_zero_closes_after_every_answer(tmp_path):
    srv = Server(tmp_path, GUNICORN_KEEPALIVE="0")
    try:
        with srv.connect() as s:
            s.sendall(_get("/healthz"))
            head, _, _ = _read_response(s)
            assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" in head
            assert _closed_by_server(s, 5)
    finally:
        srv.stop()


def test_a_stopping_worker_closes_its_idle_connections_and_exits_at_once(tmp_path):
    srv = Server(tmp_path, GUNICORN_KEEPALIVE="60")
    idle = srv.connect()
    try:
        idle.sendall(_get("/healthz"))
        _read_response(idle)
        assert srv.stop() < 10  # not the 60 s the connection could have been kept
        assert _closed_by_server(idle, 1)
    finally:
        idle.close()
