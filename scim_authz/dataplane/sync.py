"""A decision point's syncer: takes each tenant's snapshot from the control plane, then asks for the
changes after its revision every `poll_seconds`, and keeps both on local disk so a restart while
the control plane is away still serves (from the last revision received, and says so).

On disk, per tenant (`<data dir>/tenants/<key>/`): `snapshot.json.gz` as the control plane sent it,
and `changes.jsonl`, one changes answer per line, appended as received. A restart loads the one
and replays the other. Once the journal is long a fresh snapshot replaces both.
"""
from __future__ import annotations

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


class ControlPlane:
    """The control plane's /v1/pdp, with a PDP key."""

    def __init__(self, url: str, key: str, timeout: float = 10.0, transport=None):
        self.url = url.rstrip("/")
        self.client = httpx.Client(base_url=self.url, timeout=timeout, transport=transport,
                                   headers={"Authorization": f"Bearer {key}", "User-Agent": "scim-authz-pdp"})

    def tenants(self) -> list[dict]:
        r = self.client.get("/v1/pdp/tenants")
        r.raise_for_status()
        return r.json()["tenants"]

    def snapshot(self, key: str, path: Path) -> None:
        """The tenant's snapshot, written (gzip'd, as sent) to `path`, durably."""
        tmp = path.with_suffix(".part")
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

    def send_decisions(self, key: str, rows: list[list]) -> None:
        r = self.client.post(f"/v1/pdp/tenants/{key}/decisions", json={"decisions": rows})
        r.raise_for_status()

    def close(self) -> None:
        self.client.close()


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

    # ---- local disk ------------------------------------------------------------------------------

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
        path = tdir / "snapshot.json.gz"
        started = time.perf_counter()
        self.control.snapshot(key, path)
        tid = self._install(path)
        (tdir / "changes.jsonl").unlink(missing_ok=True)
        self._journal_bytes[key] = 0
        log.info("tenant %s: snapshot at revision %s taken in %.2fs", key, self.mirror.tenants[tid].revision,
                 time.perf_counter() - started)
        return tid

    def _journal_too_long(self, key: str) -> bool:
        held = self._journal_bytes.get(key, 0)
        if held < JOURNAL_MIN_BYTES:
            return False
        try:
            return held > JOURNAL_RATIO * (self.dir / key / "snapshot.json.gz").stat().st_size
        except OSError:
            return True

    def sync_once(self) -> bool:
        """One round: a snapshot for a tenant not held, the changes of each other. True when more
        changes are waiting (ask again at once)."""
        more = False
        for t in self.control.tenants():
            key = t["key"]
            copy = self.mirror.by_key.get(key)
            if copy is not None:
                copy.newest = max(copy.newest, int(t["revision"]))
            if copy is None or self._journal_too_long(key):
                self.take_snapshot(key)
                continue
            if t["revision"] <= copy.revision:
                copy.synced_at = time.time()
                continue
            body = self.control.changes(key, copy.revision)
            if body is None or body.get("user_attributes_read", copy.names) != copy.names:
                self.take_snapshot(key)  # the log was pruned, or conditions now read other attributes
                continue
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

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="pdp-sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
