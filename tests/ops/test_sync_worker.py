"""The sync worker (scim_authz/ops/sync_worker.py) waits for connections the way gunicorn's does,
except that a new connection wakes one idle worker, not all of them. Each "worker" here is the
class itself around a real listening socket, waiting in a thread of its own (epoll releases the
GIL), as the processes of a server wait on the socket they share."""
from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scim_authz.ops.sync_worker import SyncWorker

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not hasattr(select, "EPOLLEXCLUSIVE"), reason="EPOLLEXCLUSIVE is Linux's")


def _worker(cls, listener):
    """A worker of class `cls` with what wait() uses of one: its sockets, its pipe, its heartbeat."""
    w = cls.__new__(cls)
    w.sockets, w.PIPE, w.nr, w.beats = [listener], os.pipe(), 0, 0
    w.wait_fds = [*w.sockets, w.PIPE[0]]  # (as gunicorn's Worker.init_process sets them)

    def notify():
        w.beats += 1
    w.notify = notify
    return w


@pytest.fixture
def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    s.setblocking(False)
    yield s
    s.close()


def _woken_by_one_connection(cls, listener, n=4) -> int:
    workers = [_worker(cls, listener) for _ in range(n)]
    woken: list = []
    errors: list = []
    waiting = threading.Barrier(n + 1)

    def wait(w):
        waiting.wait()
        try:
            if any(r is listener for r in w.wait(1.5)):
                woken.append(w)
        except Exception as e:  # noqa: BLE001 - failed below
            errors.append(e)
    threads = [threading.Thread(target=wait, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    waiting.wait()
    time.sleep(0.2)  # every worker is in its wait
    client = socket.create_connection(listener.getsockname())
    for t in threads:
        t.join(5)
    client.close()
    try:
        listener.accept()[0].close()
    except BlockingIOError:
        pass
    assert not errors, errors
    return len(woken)


def test_a_connection_wakes_one_idle_worker_where_gunicorns_wakes_them_all():
    # In a process of its own: gunicorn's select() refuses descriptors past 1,023, and a process
    # that has run many tests may hold that many (ours, in epoll, has no such limit).
    script = ("import sys, socket; from tests.ops import test_sync_worker as t\n"
              "from gunicorn.workers.sync import SyncWorker as G\n"
              "def listener():\n"
              "    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(16); s.setblocking(False); return s\n"
              "print(t._woken_by_one_connection(G, listener()), t._woken_by_one_connection(t.SyncWorker, listener()))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    gunicorns, ours = map(int, out.stdout.split())
    assert gunicorns == 4  # (what the test tells apart)
    assert ours <= 2  # the kernel wakes "one or more"


def test_an_idle_worker_beats_its_heartbeat_and_returns_at_its_timeout(listener):
    w = _worker(SyncWorker, listener)
    started = time.monotonic()
    assert w.wait(0.2) == []
    assert 0.15 < time.monotonic() - started < 1.0
    assert w.beats == 1


def test_the_arbiters_pipe_wakes_a_waiting_worker(listener):
    w = _worker(SyncWorker, listener)
    os.write(w.PIPE[1], b".")
    assert w.wait(5) == [w.PIPE[0]]
    os.set_blocking(w.PIPE[0], False)
    with pytest.raises(BlockingIOError):  # the byte was read
        os.read(w.PIPE[0], 1)


def test_a_waiting_connection_is_reported_ready(listener):
    w = _worker(SyncWorker, listener)
    client = socket.create_connection(listener.getsockname())
    try:
        assert w.wait(5) == [listener]
        listener.accept()[0].close()
    finally:
        client.close()
