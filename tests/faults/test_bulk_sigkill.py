"""A gunicorn worker killed with SIGKILL in the middle of a 1,000-operation /Bulk request (RFC 7644
§3.7) leaves no partial write: the request is one transaction, and a transaction whose process died
before committing is rolled back by the database. Then gunicorn's master replaces the worker and
the same request, sent again, creates every user.

Real gunicorn (config/gunicorn.conf.py, two sync workers), real databases: a private PostgreSQL,
and SQLite. The worker to kill is the one inside the bulk's transaction, found from the database's
side: on PostgreSQL, the backend whose transaction has written, through its client port to the
worker's socket; on SQLite, the process holding the WAL write lock (/proc/locks)."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.faults.service import TENANT, Service, bulk_of_users

OPERATIONS = 1000  # SCIM_BULK_MAX_OPERATIONS' default
NAMES = [f"kill{i:04d}@faults.example" for i in range(OPERATIONS)]
# PostgreSQL: kill once the bulk's own (invisible) rows fill this many pages of users; 1,000 users
# take about 42 pages, so about a third of the way through.
PAGES_WRITTEN = 15
AGAIN = NAMES[:50] + NAMES[-50:]  # sent again after the kill, on the replacement worker
HELD_SECONDS = 0.15  # SQLite: kill once the bulk has held the write lock this long (other writes: milliseconds)


def _wait(what: str, probe, timeout: float = 30.0, every: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


class _Send(threading.Thread):
    """The bulk request, on a thread: its response, or the error it ended with."""

    def __init__(self, svc: Service):
        super().__init__(daemon=True)
        self.svc, self.response, self.error = svc, None, None

    def run(self) -> None:
        try:
            self.response = httpx.post(f"{self.svc.origin}/scim/v2/Bulk", json=bulk_of_users(NAMES),
                                       headers=self.svc.scim_headers, timeout=120)
        except httpx.HTTPError as e:
            self.error = e


def _socket_owner(pids: list[int], local_port: int) -> int | None:
    """The process (of `pids`) with an open TCP socket on 127.0.0.1:`local_port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == local_port:
                inodes.add(f"socket:[{f[9]}]")
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return pid
            except OSError:
                continue
    return None


def _sqlite_writer(shm: Path) -> int | None:
    """The process holding SQLite's WAL write lock (byte 120 of the -shm file, taken exclusively)."""
    if not shm.exists():
        return None
    st = shm.stat()
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in Path("/proc/locks").read_text().splitlines():
        f = line.split()
        # "1: POSIX  ADVISORY  WRITE 12345 fe:00:2148066 120 120"
        if len(f) >= 8 and f[1] == "POSIX" and f[3] == "WRITE" and f[5] == device and f[6] == "120":
            return int(f[4])
    return None


def _kill_and_replace(svc: Service, worker: int, send: _Send) -> None:
    assert send.response is None, f"the bulk finished before the kill ({send.response.status_code}); " \
                                  "nothing was tested"
    before = svc.worker_pids()
    os.kill(worker, signal.SIGKILL)
    send.join(timeout=60)
    assert send.response is None and send.error is not None, \
        f"a response came from a killed worker: {send.response and send.response.status_code}"
    _wait("gunicorn to replace the killed worker",
          lambda: len(svc.worker_pids()) == len(before) and worker not in svc.worker_pids())


def _send_again(svc: Service) -> list[str]:
    """Users of the killed bulk, first and last, sent again in a fresh bulk (the replacement worker
    takes it): each is created, none is refused as a duplicate of something left behind; the statuses."""
    r = httpx.post(f"{svc.origin}/scim/v2/Bulk", json=bulk_of_users(AGAIN), headers=svc.scim_headers, timeout=120)
    assert r.status_code == 200, r.text[:300]
    return [op["status"] for op in r.json()["Operations"]]


def _scim_sees_none(svc: Service) -> None:
    for name in (NAMES[0], NAMES[-1]):
        r = httpx.get(f"{svc.origin}/scim/v2/Users", params={"filter": f'userName eq "{name}"'},
                      headers=svc.scim_headers, timeout=30)
        assert r.status_code == 200 and r.json()["totalResults"] == 0, r.text[:300]


def test_a_worker_killed_mid_bulk_leaves_nothing_on_postgresql(private_pg, tmp_path):
    db = "bulk_sigkill"
    svc = Service(private_pg.create_database(db), tmp_path, WEB_CONCURRENCY="2").prepare(api_key=False)

    def one(sql: str, *params):
        return private_pg.query(sql, params, db)[0][0]

    tenant_state = "SELECT revision, (SELECT count(*) FROM changes c WHERE c.tenant_id = t.id) FROM tenants t " \
                   "WHERE key = %s"
    with svc.start():
        state_before = private_pg.query(tenant_state, (TENANT,), db)[0]
        users_pages = "SELECT pg_relation_size('users') / current_setting('block_size')::int"
        pages_before = one(users_pages)
        send = _Send(svc)
        send.start()
        # The bulk's transaction has written this many pages of users rows, none of them visible.
        pages = _wait("the bulk to write rows", lambda: (n := one(users_pages)) >= pages_before + PAGES_WRITTEN and n)
        writing = private_pg.query("SELECT pid, client_port FROM pg_stat_activity WHERE datname = %s "
                                   "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()", (db,), db)
        assert len(writing) == 1, f"expected the bulk's transaction alone to be writing: {writing}"
        backend, port = writing[0]
        assert one("SELECT count(*) FROM users WHERE user_name LIKE 'kill%%'") == 0  # not committed yet
        worker = _socket_owner(svc.worker_pids(), port)
        assert worker is not None, f"no worker holds the connection of backend {backend} (port {port})"
        _kill_and_replace(svc, worker, send)
        # PostgreSQL ends the backend when its client's socket closes, rolling its transaction back.
        _wait("the killed worker's backend to end",
              lambda: not private_pg.query("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend,), db))
        assert pages > pages_before
        assert one("SELECT count(*) FROM users WHERE user_name LIKE 'kill%%'") == 0
        assert private_pg.query(tenant_state, (TENANT,), db)[0] == state_before  # no revision, no change logged
        _scim_sees_none(svc)
        statuses = _send_again(svc)
        assert statuses == ["201"] * len(AGAIN), {s: statuses.count(s) for s in set(statuses)}
        assert one("SELECT count(*) FROM users WHERE user_name LIKE 'kill%%'") == len(AGAIN)


def test_a_worker_killed_mid_bulk_leaves_nothing_on_sqlite(tmp_path):
    path = tmp_path / "db.sqlite"
    svc = Service(f"sqlite:///{path}", tmp_path, WEB_CONCURRENCY="2").prepare(api_key=False)
    shm = Path(f"{path}-shm")

    def count(sql: str) -> int:
        import sqlite3

        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute(sql).fetchone()[0]

    with svc.start():
        revision = count(f"SELECT revision FROM tenants WHERE key = '{TENANT}'")
        send = _Send(svc)
        send.start()

        workers = svc.worker_pids()
        # A worker holding the write lock for HELD_SECONDS on end: the bulk's transaction, not a short
        # write of another kind (the token's last use, say).
        worker, since, deadline = None, 0.0, time.monotonic() + 60
        while True:
            pid, now = _sqlite_writer(shm), time.monotonic()
            if pid not in workers or pid != worker:
                worker, since = (pid if pid in workers else None), now
            elif now - since >= HELD_SECONDS:
                break
            assert send.response is None, f"the bulk finished ({send.response.status_code}) before the kill"
            assert now < deadline, "no worker held the write lock"
            time.sleep(0.01)
        _kill_and_replace(svc, worker, send)
        assert count("SELECT count(*) FROM users WHERE user_name LIKE 'kill%'") == 0
        assert count(f"SELECT revision FROM tenants WHERE key = '{TENANT}'") == revision
        _scim_sees_none(svc)
        statuses = _send_again(svc)
        assert statuses == ["201"] * len(AGAIN), {s: statuses.count(s) for s in set(statuses)}
        assert count("SELECT count(*) FROM users WHERE user_name LIKE 'kill%'") == len(AGAIN)


@pytest.fixture(autouse=True)
def _linux_only():
    if not Path("/proc/net/tcp").exists() or not Path("/proc/locks").exists():
        pytest.skip("finds the worker through /proc (Linux)")
