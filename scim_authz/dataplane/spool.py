"""A decision point's decision log: decisions are shipped to the control plane in batches, every
`flush_seconds`, so its decision log and monthly active users stay complete. A batch the control
plane does not take is written to local disk (fsync'd) and waits there, never dropped, until it
does; one sent twice (its answer lost) is recorded once there (decision ids). Segments on disk go
first, so decisions arrive in the order they were made.

`record`, `record_many` and `write_now` are the decision log's own (pdp/decision_log.AuditLog),
so the check views use either without knowing which.
"""
from __future__ import annotations

import logging
import os
import random
import threading
from collections import deque
from pathlib import Path

import orjson

log = logging.getLogger("scim_authz.dataplane.spool")
BATCH = 5_000  # decisions per POST


class DecisionSpool:
    def __init__(self, data_dir: Path, ship, tenant_key, flush_seconds: float = 2.0):
        """`ship(tenant key, rows)` sends rows to the control plane (raises when it cannot);
        `tenant_key(tenant id)` names a tenant."""
        self.ship, self.tenant_key, self.flush_seconds = ship, tenant_key, flush_seconds
        self.use_dir(Path(data_dir) / "decisions")
        self.queue: deque = deque()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one writer of the segments at a time
        self._thread: threading.Thread | None = None
        self._in_flight = 0  # taken from the queue, being sent
        self.shipped = 0
        self.last_error: str | None = None

    def use_dir(self, path: Path) -> None:
        """Keep segments in `path` (a worker's own: dataplane/slots.py)."""
        self.dir = Path(path)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._seq = max((int(p.stem) for p in self.dir.glob("*.jsonl") if p.stem.isdigit()), default=0)

    def adopt(self, paths: list[Path]) -> int:
        """Take over segments another worker left (dataplane/slots.orphans): moved into this
        spool's directory, to be sent with its own."""
        with self._lock:
            for path in paths:
                if path.suffix == ".jsonl":
                    self._seq += 1
                    os.replace(path, self.dir / f"{self._seq:012d}.jsonl")
        return len(paths)

    # ---- the decision log's interface ---------------------------------------------------------

    def record(self, row) -> None:
        self.queue.append(row)

    def record_many(self, rows) -> None:
        self.queue.extend(rows)

    def write_now(self, rows) -> None:
        self.queue.extend(rows)

    # ---- to disk, then to the control plane ---------------------------------------------------

    def pending(self) -> int:
        """Decisions not yet taken by the control plane (queued or on disk)."""
        on_disk = 0
        for p in self.dir.glob("*.jsonl"):
            with open(p, encoding="utf-8") as f:
                on_disk += sum(1 for line in f if line.endswith("\n"))
        return len(self.queue) + self._in_flight + on_disk

    def spill(self) -> None:
        """Write what is queued to a new segment on disk (flushed, fsync'd)."""
        rows = []
        while self.queue and len(rows) < BATCH * 4:
            rows.append(self.queue.popleft())
        if not rows:
            return
        with self._lock:
            self._seq += 1
            path = self.dir / f"{self._seq:012d}.jsonl"
            try:
                with open(path, "wb") as f:
                    f.write(b"".join(orjson.dumps(row) + b"\n" for row in rows))
                    f.flush()
                    os.fsync(f.fileno())
            except OSError:
                self.queue.extendleft(reversed(rows))  # kept in memory until the disk takes them
                path.unlink(missing_ok=True)
                raise

    def send(self) -> int:
        """Send the segments on disk, oldest first; stops at the first the control plane does not
        take. The number of decisions it took."""
        sent = 0
        for path in sorted(self.dir.glob("*.jsonl")):
            with open(path, "rb") as f:
                rows = [orjson.loads(line) for line in f if line.endswith(b"\n")]
            self._ship_rows(rows)
            path.unlink()
            sent += len(rows)
        return sent

    def _ship_rows(self, rows: list) -> None:
        """Send rows to the control plane, each tenant's to its own; raises if it refuses."""
        by_tenant: dict[int, list] = {}
        for row in rows:
            by_tenant.setdefault(row[1], []).append(row)
        for tid, part in by_tenant.items():
            key = self.tenant_key(tid)
            for i in range(0, len(part), BATCH):
                self.ship(key, part[i:i + BATCH])
        self.shipped += len(rows)

    def run(self) -> None:
        # Each wait drawn around flush_seconds: a decision point's workers, started together, do not
        # all send at once (the control plane then takes their batches one after another).
        while not self._stop.is_set():
            self._stop.wait(self.flush_seconds * random.uniform(0.5, 1.5))
            self.flush()

    def flush(self) -> None:
        """Send what waits on disk, then the decisions queued when this round began: those made
        while it sends wait for the next round (under steady load, draining the queue until it is
        empty would never end: a stream of small batches, each one a write on the control plane)."""
        try:
            self.send()  # what waits on disk first
            due = len(self.queue)
            while due > 0 and self.queue:
                n = min(len(self.queue), BATCH, due)
                due -= n
                self._in_flight = n  # (before they leave the queue: pending() never misses them)
                rows = [self.queue.popleft() for _ in range(n)]
                try:
                    self._ship_rows(rows)
                except Exception:
                    self.queue.extendleft(reversed(rows))
                    raise
                finally:
                    self._in_flight = 0
            self.last_error = None
        except Exception as e:  # noqa: BLE001 - kept on disk, sent on the next round
            if self.last_error is None:
                log.warning("decisions kept on local disk until the control plane takes them: %s", e)
            self.last_error = str(e) or type(e).__name__
            try:
                while self.queue:
                    self.spill()
            except OSError as disk:
                log.error("%d decisions wait in memory: the local disk refuses them too: %s", len(self.queue), disk)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="pdp-decisions", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop shipping: what is queued is sent now if the control plane takes it, else written to
        local disk, for the next start to send."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._thread is not None and self._thread.is_alive():
            return  # (still sending: it spills what the control plane does not take)
        self.flush()
        if self.queue:
            log.error("%d decisions could not be written to local disk at exit", len(self.queue))
