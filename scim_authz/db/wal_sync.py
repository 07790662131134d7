"""Group commit for SQLite: a write is on disk before it is acknowledged, and writers do not queue
behind each other's disk flush.

With `PRAGMA synchronous=FULL`, SQLite flushes its write-ahead log (WAL) to disk inside COMMIT,
while it holds the database's one write lock: every other writer waits for that flush too, so
under four IdP connections the machine sat idle while writes queued for the disk. Here
(SQLITE_SYNCHRONOUS=FULL with SQLITE_GROUP_COMMIT on, the default) each connection runs at
`synchronous=NORMAL`, where COMMIT appends the transaction to the WAL and lets go, and the
committing code flushes the WAL itself (`fsync`) after COMMIT:

- a request's unit of work (db.txn.transaction) flushes after it has given back its writer's turn
  and before its response goes out, so the next writer commits while this one waits for the
  disk, and one flush can cover several writers' commits;
- any other commit (command line, migrations, background counters) flushes inside `commit()`,
  before it returns, as SQLite would at FULL. (The decision log's own connection keeps its
  documented NORMAL and flushes nothing: pdp/decision_log.py.)

Either way an acknowledged write survives a power loss, as it does at FULL: the flush covers the
whole WAL file, so the commit's frames and everything before them. SQLite itself still flushes
the WAL before each checkpoint and the database file after it (NORMAL does that), so what a
checkpoint copies is never ahead of what the WAL holds on disk. The directory entry of a WAL file
this process has not flushed before is flushed once too, as SQLite does for a file it created.
A flush that fails fails the request: the write is committed in the file but may not be on
disk, so it is not acknowledged (the client's retry finds it there or does it again).
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
from contextvars import ContextVar

log = logging.getLogger("scim_authz.db.wal_sync")

# The WALs the current unit of work committed to and will flush itself (db.txn.transaction);
# None: a commit flushes before it returns.
DEFERRED: ContextVar[list | None] = ContextVar("wal_sync_deferred", default=None)


def _fsync(fd: int) -> None:
    os.fsync(fd)


class WalSync:
    """Flushes one database's WAL file (`<database>-wal`) to disk."""

    def __init__(self, database: str):
        self.path = database + "-wal"
        self.directory = os.path.dirname(self.path) or "."
        self._synced: tuple | None = None  # (pid, device, inode) of the WAL whose directory entry is on disk
        self._lock = threading.Lock()

    def sync(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            # No WAL: the last connection checkpointed it into the database file and removed it,
            # and that checkpoint flushed the database file.
            return
        try:
            _fsync(fd)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        key = (os.getpid(), st.st_dev, st.st_ino)
        if key != self._synced:
            with self._lock:
                dfd = os.open(self.directory, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    _fsync(dfd)
                finally:
                    os.close(dfd)
                self._synced = key


_syncs: dict[str, WalSync] = {}
_syncs_lock = threading.Lock()


def for_database(database: str) -> WalSync:
    """The process's WalSync for a database file (by its resolved path)."""
    path = os.path.realpath(database)
    with _syncs_lock:
        sync = _syncs.get(path)
        if sync is None:
            sync = _syncs[path] = WalSync(path)
        return sync


class GroupCommitConnection(sqlite3.Connection):
    """A pysqlite connection whose commits reach the disk: at once, or when the unit of work that
    made them says (DEFERRED). `wal_sync` is set when the connection is opened (db.setup). Every
    COMMIT that ends a transaction is flushed, a schema change's included, as SQLite does at FULL."""

    wal_sync: WalSync | None = None

    def commit(self) -> None:
        ended = self.in_transaction and self.wal_sync is not None
        super().commit()
        if ended:
            deferred = DEFERRED.get()
            if deferred is None:
                self.wal_sync.sync()
            elif self.wal_sync not in deferred:
                deferred.append(self.wal_sync)


def flush(pending: list[WalSync]) -> None:
    """Flush the WALs a unit of work committed to (DEFERRED); raises (and logs) if the disk refuses."""
    while pending:
        sync = pending.pop()
        try:
            sync.sync()
        except OSError as e:
            log.error("flushing %s failed after a commit; the write is not acknowledged: %s", sync.path, e)
            raise
