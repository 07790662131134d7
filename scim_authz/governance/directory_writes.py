"""SCIM directory writes, counted per IdP token and day (UTC), and, when the tenant turns it on
(`log_directory_writes`), each one in the administrative change log as well.

The count costs a write request no database work: each process adds its writes up in memory, and
a thread of its own adds them to `directory_write_counts` about once a second, in a short
transaction (also when the process stops, and before this process reads the counts). A process
killed outright loses at most that last second of counts; never a write, which has committed.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from scim_authz.db.extensions import db
from scim_authz.db.models import Credential, DirectoryWriteCount, utcnow
from scim_authz.db.txn import intent
from scim_authz.db.write_turn import WriteTurn, turn_for
from scim_authz.governance import changelog

log = logging.getLogger("scim_authz.governance")
_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
FLUSH_SECONDS = 1.0


class WriteCounter:
    """One process's counts not yet written, and the thread that writes them."""

    def __init__(self, engine: Engine, every: float = FLUSH_SECONDS):
        self.engine, self.every = engine, every
        self._pending: Counter = Counter()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False

    def add(self, tenant_id: int, credential_id: int) -> None:
        with self._lock:
            self._pending[(tenant_id, credential_id, utcnow().date().isoformat())] += 1
            if self._thread is None or self._pid != os.getpid():  # (first use, or in a forked worker)
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="directory-write-counts", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.every)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Add what this process counted to the table, in one short transaction; kept for the next
        try when the database cannot be written."""
        with self._lock:
            batch, self._pending = self._pending, Counter()
        if not batch:
            return
        table = DirectoryWriteCount.__table__
        try:
            insert = _INSERT[self.engine.dialect.name](table)
            stmt = insert.on_conflict_do_update(index_elements=["tenant_id", "credential_id", "day"],
                                                set_={"writes": table.c.writes + insert.excluded.writes})
            with turn_for(self.engine) or WriteTurn(None), intent(True), self.engine.begin() as conn:
                conn.execute(stmt, [{"tenant_id": t, "credential_id": c, "day": d, "writes": n}
                                    for (t, c, d), n in sorted(batch.items())])
        except Exception as e:  # noqa: BLE001 - kept and tried again; a count is never worth a failed write
            log.warning("directory write counts not written yet (%d rows kept): %s", len(batch), e)
            with self._lock:
                self._pending.update(batch)

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self.flush()


def count(counter: WriteCounter, tenant_id: int, credential_id: int, method: str, path: str, status: int, *,
          log: bool) -> None:
    """One successful SCIM write by this token, in the current transaction: counted, and logged
    too when the tenant asks (`log`: its setting, as the token's cached caller carries it)."""
    counter.add(tenant_id, credential_id)
    if log:
        changelog.record(tenant_id, f"scim.{method.lower()}", path, after={"status": status})


def counts(tenant_id: int, days: int = 31) -> list[dict]:
    """The tenant's counts of the last `days` days, newest day first, per token."""
    first = (utcnow() - timedelta(days=days - 1)).date().isoformat()
    rows = db.session.execute(
        select(DirectoryWriteCount, Credential.prefix, Credential.name)
        .join(Credential, Credential.id == DirectoryWriteCount.credential_id, isouter=True)
        .where(DirectoryWriteCount.tenant_id == tenant_id, DirectoryWriteCount.day >= first)
        .order_by(DirectoryWriteCount.day.desc(), DirectoryWriteCount.credential_id)).all()
    return [{"day": c.day, "token": {"id": c.credential_id, "prefix": prefix, "name": name}, "writes": c.writes}
            for c, prefix, name in rows]
