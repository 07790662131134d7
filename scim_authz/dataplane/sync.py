"""A decision point's syncer: takes each tenant's snapshot from the control plane, then asks for the
changes after its revision every `poll_seconds`, and keeps both on local disk so a restart while
the control plane is away still serves (from the last revision received, and says so).

On disk, per tenant (`<data dir>/tenants/<key>/`): `snapshot.json.gz` as the control plane sent it,
and `changes.jsonl`, one changes answer per line, appended as received. A restart loads the one
and replays the other. Once the journal is long a fresh snapshot replaces both.

Under gunicorn the master loads (from disk, else from the control plane) before it forks, so every
worker starts with the data, shared copy-on-write; each worker then syncs on its own, and one of
them at a time (the holder of `<data dir>/persist.lock`) writes to disk.
"""
from __future__ import annotations

import fcntl
import gc
import gzip
import logging
import os
import threading
import time
from pathlib import Path

import httpx
import orjson

from scim_authz.authz import grants as grants_mod
from scim_authz.authz.conditions import compile_condition
from scim_authz.authz.store import TenantStore
from scim_authz.dataplane import wire
from scim_authz.dataplane.mirror import Mirror

log = logging.getLogger("scim_authz.dataplane.sync")
# A fresh snapshot replaces the journal once the journal is this many times the snapshot's size (and
# at least JOURNAL_MIN_BYTES): a restart then replays little, and steady writes do not have a large
# tenant downloaded again every few minutes.
JOURNAL_RATIO, JOURNAL_MIN_BYTES = 4, 64 * 1024 * 1024
LIST_SECONDS = 5.0  # how often the tenants a key covers are listed again


class ControlPlane:
    """The control plane's /v1/pdp, with a PDP key."""

    def __init__(self, url: str, key: str, timeout: float = 10.0, transport=None):
        self.url = url.rstrip("/")
        self._make = lambda: httpx.Client(base_url=self.url, timeout=timeout, transport=transport, headers={
            "Authorization": f"Bearer {key}", "User-Agent": "scim-authz-pdp"})
        self._client, self._pid = None, None

    @property
    def client(self) -> httpx.Client:
        """This process's client (a forked worker makes its own: no connection is shared)."""
        if self._client is None or self._pid != os.getpid():
            self._client, self._pid = self._make(), os.getpid()
        return self._client

    def tenants(self) -> list[dict]:
        r = self.client.get("/v1/pdp/tenants")
        r.raise_for_status()
        return r.json()["tenants"]

    def snapshot(self, key: str, path: Path) -> None:
        """The tenant's snapshot, written (gzip'd, as sent) to `path`, durably."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
        with self.client.stream("GET", f"/v1/pdp/tenants/{key}/snapshot") as r:
            r.raise_for_status()
            with open(tmp, "wb") as f:
                for chunk in r.iter_raw():
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)

    def changes(self, key: str, after: int) -> dict | None:
        """The changes after `after`; None when the control plane says a snapshot is needed."""
        r = self.client.get(f"/v1/pdp/tenants/{key}/changes", params={"after": after})
        if r.status_code == 410:
            return None
        r.raise_for_status()
        return orjson.loads(r.content)

    def send_decisions(self, key: str, rows: list) -> None:
        """Rows of the decision log (tuples or lists; times as datetimes or ISO 8601 strings)."""
        r = self.client.post(f"/v1/pdp/tenants/{key}/decisions", content=orjson.dumps({"decisions": rows}),
                             headers={"Content-Type": "application/json"})
        r.raise_for_status()

    def close(self) -> None:
        if self._client is not None and self._pid == os.getpid():
            self._client.close()
        self._client = None


class Syncer:
    """Keeps an engine's stores (and the mirror it reads) at the control plane's newest revision."""

    def __init__(self, control: ControlPlane, engine, mirror: Mirror, data_dir: Path, poll_seconds: float = 0.05,
                 retry_seconds: float = 0.25):
        self.control, self.engine, self.mirror = control, engine, mirror
        self.dir = Path(data_dir) / "tenants"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.poll_seconds, self.retry_seconds = poll_seconds, retry_seconds
        self.connected = False
        self.last_error: str | None = None
        self.last_contact: float | None = None  # time.time() of the control plane's last answer
        self.loaded_from_disk: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._journal_bytes: dict[str, int] = {}
        self.persist = True  # this process writes what it receives to disk (see claim_persistence)
        self._listed_at = -1e9
        self._afresh: set[str] = set()  # tenants whose copy on disk could not be read
        self._persist_fd: int | None = None

    # ---- local disk ------------------------------------------------------------------------------

    def claim_persistence(self) -> bool:
        """In a worker: become the process that writes to disk, if none is (a lock on
        `persist.lock`, held for the process's life; a replacement worker takes it over)."""
        fd = os.open(self.dir.parent / "persist.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            self.persist = False
            return False
        self._persist_fd, self.persist = fd, True
        for journal in self.dir.glob("*/changes.jsonl"):  # a line its last writer left unfinished
            _cut_unfinished_line(journal)
            self._journal_bytes[journal.parent.name] = journal.stat().st_size
        return True

    def load_local(self) -> int:
        """Serve what is on disk (the last snapshot and the changes after it); tenants loaded."""
        n = 0
        for tdir in sorted(p for p in self.dir.iterdir() if p.is_dir()):
            snap_path = tdir / "snapshot.json.gz"
            if not snap_path.exists():
                continue
            try:
                tid = self._install(snap_path)
                journal = tdir / "changes.jsonl"
                if journal.exists():
                    with open(journal, "rb") as f:
                        for line in f:
                            if not line.endswith(b"\n"):
                                break  # a line cut short by a crash: what follows is asked for again
                            self._apply(tid, orjson.loads(line))
                self._journal_bytes[tdir.name] = journal.stat().st_size if journal.exists() else 0
                self.loaded_from_disk.add(tdir.name)
                n += 1
                log.info("tenant %s served from local disk at revision %s", tdir.name,
                         self.mirror.tenants[tid].revision)
            except Exception:  # noqa: BLE001 - a damaged copy is taken afresh from the control plane
                log.exception("the local copy of tenant %s cannot be read; it is taken afresh", tdir.name)
                self._afresh.add(tdir.name)
        return n

    def _install(self, snap_path: Path) -> int:
        # The cyclic garbage collector is paused, as the engine's own load does (authz/engine.py):
        # millions of new objects, none in a cycle, would have it walk them again and again.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            with gzip.open(snap_path, "rb") as f:
                snap, attrs, names, credentials = wire.snapshot_from(orjson.loads(f.read()))
            store = TenantStore(snap, compile_condition)
            grants_mod.warm(store)
        finally:
            if was_enabled:
                gc.enable()
        with self.engine._lock:  # the store first: a check that finds the tenant in the mirror finds its store
            self.engine.stores[snap.tenant.id] = store
        self.mirror.install(snap, attrs, names, credentials)
        return snap.tenant.id

    def _apply(self, tid: int, body: dict) -> None:
        self.mirror.receive(tid, body)
        st = self.engine.catch_up(tid, self.mirror.tenants[tid].revision)  # here, not by the next check
        self.mirror.trim(tid, st.revision)

    # ---- the control plane ---------------------------------------------------------------------

    def take_snapshot(self, key: str) -> int:
        tdir = self.dir / key
        tdir.mkdir(parents=True, exist_ok=True)
        # (a worker that does not write to disk downloads beside it, and lets go once loaded)
        path = tdir / ("snapshot.json.gz" if self.persist else f".snapshot.{os.getpid()}.json.gz")
        started = time.perf_counter()
        self.control.snapshot(key, path)
        try:
            tid = self._install(path)
        finally:
            if not self.persist:
                path.unlink(missing_ok=True)
        if self.persist:
            (tdir / "changes.jsonl").unlink(missing_ok=True)
            self._journal_bytes[key] = 0
        log.info("tenant %s: snapshot at revision %s taken in %.2fs", key, self.mirror.tenants[tid].revision,
                 time.perf_counter() - started)
        return tid

    def _journal_too_long(self, key: str) -> bool:
        if not self.persist:
            return False
        held = self._journal_bytes.get(key, 0)
        if held < JOURNAL_MIN_BYTES:
            return False
        try:
            return held > JOURNAL_RATIO * (self.dir / key / "snapshot.json.gz").stat().st_size
        except OSError:
            return True

    def _listed(self) -> list[dict]:
        """The tenants the key covers: asked for when none is held, and every LIST_SECONDS (a key of
        every tenant finds new ones), else those held."""
        now = time.monotonic()
        if not self.mirror.tenants or now - self._listed_at >= LIST_SECONDS:
            found = self.control.tenants()
            self._listed_at = now
            return found
        return [{"key": c.key, "revision": None} for c in list(self.mirror.tenants.values())]

    def sync_once(self) -> bool:
        """One round: a snapshot for a tenant not held, the changes of each other (one request per
        tenant when nothing changed). True when more changes are waiting (ask again at once)."""
        more = False
        for t in self._listed():
            key = t["key"]
            copy = self.mirror.by_key.get(key)
            if copy is None or key in self._afresh or self._journal_too_long(key):
                self.take_snapshot(key)
                self._afresh.discard(key)
                continue
            if t["revision"] is not None and t["revision"] <= copy.revision:
                copy.newest, copy.synced_at = max(copy.newest, int(t["revision"])), time.time()
                continue
            body = self.control.changes(key, copy.revision)
            if body is None or body.get("user_attributes_read", copy.names) != copy.names:
                self.take_snapshot(key)  # the log was pruned, or conditions now read other attributes
                continue
            copy.newest = max(copy.newest, int(body["newest"]))
            if not body["changes"]:
                copy.synced_at = time.time()
                continue
            if self.persist:
                line = orjson.dumps(body) + b"\n"
                with open(self.dir / key / "changes.jsonl", "ab") as f:
                    f.write(line)
                self._journal_bytes[key] = self._journal_bytes.get(key, 0) + len(line)
            self._apply(copy.id, body)
            more |= bool(body.get("more"))
        if not self.connected:
            log.info("control plane %s reached", self.control.url)
        self.connected, self.last_error, self.last_contact = True, None, time.time()
        self.mirror.connected = True
        return more

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = 0 if self.sync_once() else self.poll_seconds
            except Exception as e:  # noqa: BLE001 - the decision point keeps serving what it has
                if self.connected or self.last_error is None:
                    log.warning("control plane %s out of reach; serving the last revision received: %s",
                                self.control.url, e)
                self.connected, self.last_error = False, str(e) or type(e).__name__
                self.mirror.connected = False  # answers say stale: true
                wait = self.retry_seconds
            if wait:
                self._stop.wait(wait)

    def first_sync(self, wait_for_data: bool) -> None:
        """One round now (in gunicorn's master before it forks, and in each worker before it
        serves). With `wait_for_data`, rounds are tried until a tenant is held: a decision point
        with nothing to decide from does not start serving."""
        while True:
            try:
                self.sync_once()
                return
            except Exception as e:  # noqa: BLE001 - retried, or served from disk
                self.connected, self.last_error, self.mirror.connected = False, str(e) or type(e).__name__, False
                if not wait_for_data or self.mirror.tenants:
                    log.warning("control plane %s out of reach; serving what local disk holds: %s",
                                self.control.url, e)
                    return
                log.warning("control plane %s out of reach and nothing on local disk; trying again: %s",
                            self.control.url, e)
                time.sleep(1.0)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="pdp-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.control.close()


def _cut_unfinished_line(path: Path) -> None:
    """Truncate a file after its last newline (a line a process that died was writing)."""
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        back = min(size, 1 << 20)
        while True:
            f.seek(size - back)
            chunk = f.read(back)
            at = chunk.rfind(b"\n")
            if at >= 0 or back == size:
                f.truncate(size - back + at + 1 if at >= 0 else 0)
                return
            back = min(size, back * 2)
