"""The decision log, written in batches by a background thread so a check never waits on a disk.

A decision is queued with its id (returned to the caller at once) and written within
`AUTHZ_AUDIT_FLUSH_SECONDS`; reads of the log in this process flush first, so an instance always
sees its own decisions. A crash can lose at most the last interval of log entries, never a
decision already returned: the trade every high-throughput PDP makes, stated here.
"""
from __future__ import annotations

import atexit
import logging
import os
import re
import sqlite3
import threading
from collections import deque

import psycopg
from sqlalchemy.engine import Engine as SAEngine

from scim_authz.db import wal_sync
from scim_authz.db.txn import intent
from scim_authz.db.wal_sync import GroupCommitConnection
from scim_authz.db.write_turn import WriteTurn, turn_for

log = logging.getLogger("scim_authz.pdp.decision_log")
# The database is away, locked or full: keep the rows queued and try again. Any other failure is
# taken to be about the rows themselves, which are then written one by one, so a row the database
# refuses is set aside alone and never holds back the rest (nor the next requests' decisions).
UNAVAILABLE = (sqlite3.OperationalError, sqlite3.InterfaceError, psycopg.OperationalError, psycopg.InterfaceError,
               ConnectionError, TimeoutError)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Rows per INSERT. The driver binds a statement's values holding the GIL, about 3 us a row: the
# writer thread, which shares its process with request threads, writes 100 at a time (a pause of
# a few hundred microseconds for them at most); a bulk request, writing its own rows, 500 (within
# SQLite's 32,766 and PostgreSQL's 65,535 parameters).
ROWS_PER_STATEMENT = 100
ROWS_PER_STATEMENT_BULK = 500
COLUMNS = ("id", "tenant_id", "at", "asked_by", "user_id", "user_key", "action", "resource_type", "resource_id",
           "allowed", "reason", "revision")
# Called with the number of rows each successful write committed, when set (the metrics count them).
HOOKS = {"rows_written": None}


class AuditLog:
    """Queues decisions and writes them in one transaction per batch."""

    def __init__(self, engine: SAEngine, flush_seconds: float = 0.2, max_batch: int = 5000,
                 max_queue: int = 200_000):
        self.engine = engine
        self.max_queue = max_queue
        self.flush_seconds = flush_seconds
        self.max_batch = max_batch
        self.queue: deque[tuple | dict] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = None
        self._thread = None
        self._closed = threading.Event()
        self._conn = None
        self._conn_pid = None
        self._local = threading.local()  # request threads' connections (write_now)
        # On SQLite, log writers take turns with every other writer of the file (db.write_turn);
        # elsewhere the log's own threads take turns.
        self._turn = turn_for(engine) or WriteTurn(None)
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._row_marks = f"({', '.join([mark] * len(COLUMNS))})"
        self._insert_sql: dict[int, str] = {}
        self._active_sql = (f"INSERT INTO active_users (tenant_id, month, user_id) VALUES ({mark}, {mark}, {mark}) "
                            "ON CONFLICT DO NOTHING")
        # (tenant, month, user) this process has already written: most decisions are by users
        # active already this month, and cost nothing more than a set look-up.
        self._active: set[tuple[int, str, str]] = set()

    def record(self, row: tuple | dict) -> None:
        """Queue one decision: a dict of Decision's columns, or a tuple of them in COLUMNS order
        (cheaper to make on the hot path; turned into a row by the writer)."""
        self.queue.append(row)
        self._queued()

    def record_many(self, rows: list[tuple]) -> None:
        """Queue the decisions of one bulk request (tuples in COLUMNS order) at once."""
        self.queue.extend(rows)
        self._queued()

    def _queued(self) -> None:
        # A thread object inherited through fork is not alive in the child: start ours then.
        # (No getpid() here: a system call per decision is measurable.)
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._start()
        n = len(self.queue)
        if n >= self.max_batch and not self._wake.is_set():
            self._wake.set()
        if n >= self.max_queue:
            # The writer cannot keep up: the request writes one batch, rather than memory growing
            # without bound or entries being dropped (backpressure on whoever is sending this
            # many, shared among them: no one request writes the whole queue).
            self.flush(limit=self.max_batch)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive() or self._closed.is_set():
                return
            self._pid = os.getpid()  # after a fork the parent's thread does not exist here
            self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
            self._thread.start()
            atexit.register(self._flush_at_exit)

    def _flush_at_exit(self) -> None:
        if not self._closed.is_set():
            self.flush()

    def _run(self) -> None:
        failing = False
        while not self._closed.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception as e:  # noqa: BLE001 - keep the writer alive; the rows stay queued
                # The traceback once; while the database stays out of reach, one line per retry.
                if failing:
                    log.warning("still cannot write decisions (%d queued); will retry: %s", len(self.queue),
                                str(e).splitlines()[0] if str(e) else type(e).__name__)
                else:
                    log.exception("could not write decisions; will retry")
                failing = True
                self._closed.wait(min(5.0, 10 * self.flush_seconds))  # not a retry every 0.2 s
            else:
                if failing:
                    log.info("decisions are written again")
                failing = False

    def close(self) -> None:
        """Write what is queued and stop the writer thread."""
        self._closed.set()
        self._wake.set()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout=5)
        self.flush()
        if self._conn is not None and self._conn_pid == os.getpid():
            self._conn.close()
            self._conn = None

    def _newly_active(self, rows: list[tuple]) -> set[tuple[int, str, str]]:
        """(tenant, month, user) of the rows that this process has not written yet."""
        months: dict[tuple[int, int], str] = {}
        seen, out = self._active, set()
        for r in rows:
            uid = r[4]
            if uid is None:
                continue
            at = r[2]
            ym = (at.year, at.month)
            month = months.get(ym)
            if month is None:
                month = months[ym] = f"{at.year:04d}-{at.month:02d}"
            key = (r[1], month, uid)
            if key not in seen:
                out.add(key)
        return out

    def _insert_rows(self, conn, rows: list[tuple], per_statement: int = ROWS_PER_STATEMENT) -> int:
        with self._turn:
            inserted = self._insert_rows_now(conn, rows, per_statement)
        written = HOOKS["rows_written"]
        if written is not None:
            written(inserted)
        return inserted

    def _insert_rows_now(self, conn, rows: list[tuple], per_statement: int) -> int:
        """One transaction, straight through the driver: at tens of thousands of decisions a
        second, building ORM parameters per row costs more than the disk. The month's newly
        active users are written in the same transaction. Rolls back and raises on failure."""
        sqlite = self.engine.dialect.name == "sqlite"
        active = self._newly_active(rows)
        try:
            cur = conn.cursor()
            if sqlite:
                cur.execute("BEGIN IMMEDIATE")  # (the driver runs in autocommit: see db_setup)
            # Many rows per statement: half the cost of a statement per row, and the driver lets
            # go of the GIL once per statement rather than once per row (a thread that wants it
            # back waits behind the request threads each time).
            inserted = 0
            for i in range(0, len(rows), per_statement):
                chunk = rows[i:i + per_statement]
                cur.execute(self._insert(len(chunk)), _params(chunk, sqlite))
                inserted += max(cur.rowcount, 0)
            if active:
                cur.executemany(self._active_sql, sorted(active))
            conn.commit()
        except Exception:
            try:
                conn.rollback()
            except Exception:  # noqa: BLE001 - the caller drops the connection anyway
                pass
            raise
        if len(self._active) + len(active) > 1_000_000:  # bounded: forgetting costs a no-op insert
            self._active.clear()
        self._active |= active
        return inserted

    def _write(self, rows: list[tuple]) -> int:
        conn = self._connection()
        try:
            return self._insert_rows(conn, rows)
        except Exception:
            self._conn = None
            conn.close()
            raise

    def write_now(self, rows: list[tuple]) -> None:
        """Write the decisions of one bulk request in the caller's thread, on a connection of its
        own: they are in the log when the request answers, and concurrent bulk requests write side
        by side instead of queueing behind one writer thread. Should that fail, they are queued
        for the writer like any others."""
        try:
            self._write_on_thread(rows, flush=False)
        except Exception as e:  # noqa: BLE001 - the writer thread takes them over
            log.warning("a bulk request's %d decisions go through the queue: %s", len(rows), e)
            self.record_many(rows)

    def write_through(self, rows: list[tuple]) -> int:
        """Write decisions in the caller's thread, on its connection, or raise: what a decision point
        sends is acknowledged only once it is in the log, on disk (it keeps them until then). The
        number written (those already there are skipped)."""
        return self._write_on_thread(rows, flush=True)

    def _write_on_thread(self, rows: list[tuple], flush: bool) -> int:
        """Insert on the calling thread's own connection (dropped if it fails, then raises); with
        `flush`, on SQLite, the WAL flushed to disk too (the log's own commits are NORMAL: see
        _connection)."""
        local = self._local
        conn = getattr(local, "conn", None)
        try:
            if conn is None or getattr(local, "pid", None) != os.getpid():
                conn = local.conn = self._open()
                local.pid = os.getpid()
            written = self._insert_rows(conn, rows, ROWS_PER_STATEMENT_BULK)
            database = self.engine.url.database
            if flush and self.engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
                wal_sync.for_database(database).sync()
            return written
        except Exception:
            local.conn = None
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - it is being dropped
                    pass
            raise

    def _insert(self, n: int) -> str:
        sql = self._insert_sql.get(n)
        if sql is None:
            # (a decision already logged is one a decision point sent again: kept once)
            sql = self._insert_sql[n] = (f"INSERT INTO decisions ({', '.join(COLUMNS)}) VALUES "
                                         + ", ".join([self._row_marks] * n) + " ON CONFLICT (id) DO NOTHING")
        return sql

    def _connection(self):
        """The writer's own connection (per process, never shared through the pool). On SQLite its
        commits are synchronous=NORMAL: the log already accepts losing its last fraction of a
        second to a crash, so it need not pay an fsync per batch; every other write stays FULL."""
        if self._conn is not None and self._conn_pid == os.getpid():
            return self._conn
        self._conn, self._conn_pid = self._open(), os.getpid()
        return self._conn

    def _open(self):
        """A connection of the log's own, outside the pool (its settings must not reach it)."""
        with intent(True):
            pooled = self.engine.raw_connection()
        conn = pooled.driver_connection
        pooled.detach()
        if self.engine.dialect.name == "sqlite":
            conn.isolation_level = None
            conn.execute("PRAGMA synchronous=NORMAL")
            if isinstance(conn, GroupCommitConnection):
                conn.wal_sync = None  # (nor a flush of its own after each batch: db.wal_sync)
        return conn

    def _one_by_one(self, batch: list[tuple]) -> int:
        """Write each row alone; a row the database refuses is written again with its text made
        storable (see `storable`), and dropped, with an error in the log, only if that fails too.
        Raises (the unwritten rows queued again) if the database itself becomes unavailable."""
        written = 0
        for n, row in enumerate(batch):
            try:
                try:
                    self._write([row])
                except UNAVAILABLE:
                    raise
                except Exception as first:  # noqa: BLE001 - about this row: try it made storable
                    fixed = storable(row)
                    if fixed == row:
                        raise
                    log.warning("decision %s had text the database cannot store (%s); logged with it replaced",
                                row[0], first, extra={"decision_id": row[0]})
                    self._write([fixed])
                written += 1
            except UNAVAILABLE:
                self.queue.extendleft(reversed(batch[n:]))
                raise
            except Exception as e:  # noqa: BLE001 - this row alone is refused: drop it, say so
                log.error("decision %s of tenant %s could not be logged and is dropped: %r", row[0], row[1], e,
                          extra={"decision_id": row[0]})
        return written

    def flush(self, limit: int | None = None) -> int:
        """Write everything queued now (or the oldest `limit` rows); returns how many were written."""
        written = 0
        with self._lock:
            queue = self.queue
            left = len(queue) if limit is None else min(limit, len(queue))
            while queue and left > 0:
                popleft = queue.popleft
                batch = [popleft() for _ in range(min(len(queue), self.max_batch, left))]
                left -= len(batch)
                batch = [tuple(r[c] for c in COLUMNS) if type(r) is dict else r for r in batch]
                try:
                    written += self._write(batch)
                except UNAVAILABLE:
                    self.queue.extendleft(reversed(batch))  # the database is away: keep them
                    raise
                except Exception:  # noqa: BLE001 - a row of the batch: find it, write the rest
                    written += self._one_by_one(batch)
        return written


def storable(row: tuple) -> tuple:
    """The row with NUL and lone surrogates in its text replaced by U+FFFD: no database stores
    them (SQLite's driver cannot encode a lone surrogate, PostgreSQL refuses NUL in text)."""
    return tuple(_UNSTORABLE.sub("\ufffd", v) if type(v) is str and _UNSTORABLE.search(v) else v for v in row)


def _params(rows: list[tuple], sqlite: bool) -> list:
    """The rows' values in one list, for one multi-row INSERT. SQLite's driver takes times as text
    in SQLAlchemy's own format; the decisions of one bulk request share one time, converted once."""
    out: list = []
    extend = out.extend
    if not sqlite:
        for r in rows:
            extend(r)
        return out
    last = iso = None
    for r in rows:
        at = r[2]
        if at is not last:
            last, iso = at, at.isoformat(" ")
        extend((r[0], r[1], iso, r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11]))
    return out
