"""A decision point's decision log: decisions are shipped to the control plane in batches, every
`flush_seconds`, so its decision log and monthly active users stay complete. A batch the control
plane does not take is written to local disk (fsync'd) and waits there, never dropped, until it
does; one sent twice (its answer lost) is recorded once there (decision ids). Segments on disk go
first, so decisions arrive in the order they were made.

`record`, `record_many` and `write_now` are the decision log's own (pdp/decision_log.AuditLog),
so the check views use either without knowing which.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from collections import deque
from datetime import datetime
from pathlib import Path

log = logging.getLogger("scim_authz.dataplane.spool")
BATCH = 5_000  # decisions per POST


def _json_row(row) -> list:
    return [v.isoformat() if isinstance(v, datetime) else v for v in row]


class DecisionSpool:
    def __init__(self, data_dir: Path, ship, tenant_key, flush_seconds: float = 0.2):
        """`ship(tenant key, rows)` sends rows to the control plane (raises when it cannot);
        `tenant_key(tenant id)` names a tenant."""
        self.dir = Path(data_dir) / "decisions"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ship, self.tenant_key, self.flush_seconds = ship, tenant_key, flush_seconds
        self.queue: deque = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one writer of the segments at a time
        self._seq = max((int(p.stem) for p in self.dir.glob("*.jsonl") if p.stem.isdigit()), default=0)
        self._thread: threading.Thread | None = None
        self.shipped = 0
        self.last_error: str | None = None

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
        return len(self.queue) + on_disk

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
                with open(path, "w", encoding="utf-8") as f:
                    for row in rows:
                        f.write(json.dumps(_json_row(row), separators=(",", ":")) + "\n")
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
            with open(path, encoding="utf-8") as f:
                rows = [json.loads(line) for line in f if line.endswith("\n")]
            self._ship_rows(rows)
            path.unlink()
            sent += len(rows)
        return sent

    def _ship_rows(self, rows: list[list]) -> None:
        """Send rows (JSON values) to the control plane, each tenant's to its own; raises if it refuses."""
        by_tenant: dict[int, list] = {}
        for row in rows:
            by_tenant.setdefault(row[1], []).append(row)
        for tid, part in by_tenant.items():
            key = self.tenant_key(tid)
            for i in range(0, len(part), BATCH):
                self.ship(key, part[i:i + BATCH])
        self.shipped += len(rows)

    def run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.flush_seconds)
            self.flush()

    def flush(self) -> None:
        try:
            self.send()  # what waits on disk first
            while self.queue:
                rows = []
                while self.queue and len(rows) < BATCH:
                    rows.append(self.queue.popleft())
                try:
                    self._ship_rows([_json_row(r) for r in rows])
                except Exception:
                    self.queue.extendleft(reversed(rows))
                    raise
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
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            while self.queue:
                self.spill()
        except OSError:
            log.error("%d decisions could not be written to local disk at exit", len(self.queue))
