"""Writers to one SQLite file take turns here, before asking SQLite for its write lock.

A writer that finds SQLite's lock taken sleeps in its busy handler, in steps of up to 100 ms
however soon the lock is free again: under four concurrent IdP connections that sleep was most
of a write's tail latency. One waiting here is woken the moment the previous writer lets go: a
lock for the threads of this process, then an `flock` on `<database>-write.lock` for the
processes (the kernel wakes the next one; a process that dies lets go). A turn is taken just
before `BEGIN IMMEDIATE` and given back right after `COMMIT` or `ROLLBACK`, so it is held no
longer than SQLite's own lock.

One turn per database file in a process, shared by request transactions, the decision log and
the background counters. It is re-entrant in a thread. PostgreSQL needs none (None).
"""
from __future__ import annotations

import fcntl
import os
import threading
import weakref
from contextvars import ContextVar
from pathlib import Path

SUFFIX = "-write.lock"


def sqlite_sidecar(engine, suffix: str) -> str | None:
    """A file beside the engine's SQLite database (`<database><suffix>`), shared by every process
    that opens it; None for another backend or a database in memory."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return str(Path(url.database).resolve()) + suffix


class WriteTurn:
    def __init__(self, path: str | None):
        self._threads = threading.RLock()
        self._path = path  # None for a database in memory: the lock for the threads only
        self._fd = None
        self._pid = None
        self._depth = 0  # this process's holds, counting a thread's re-entries

    def acquire(self) -> None:
        self._threads.acquire()
        try:
            self._depth += 1
            if self._depth == 1 and self._path is not None:
                if self._fd is None or self._pid != os.getpid():  # a forked worker opens its own
                    self._fd, self._pid = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._depth -= 1
            self._threads.release()
            raise

    def release(self) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._path is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


_turns: dict[str, WriteTurn] = {}
_turns_lock = threading.Lock()
_by_engine: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # resolving the path costs a few stat calls


def turn_for(engine) -> WriteTurn | None:
    """The process's turn for the engine's SQLite file (None on another backend)."""
    if engine.dialect.name != "sqlite":
        return None
    known = _by_engine.get(engine)
    if known is not None:
        return known
    path = sqlite_sidecar(engine, SUFFIX)
    key = path or f"memory:{id(engine)}"
    with _turns_lock:
        turn = _turns.get(key)
        if turn is None:
            turn = _turns[key] = WriteTurn(path)
        _by_engine[engine] = turn
        return turn


# The turns the current unit of work took when its transaction began (db.setup's begin event),
# to be given back once it has committed or rolled back (db.txn.transaction). None: no unit of
# work is collecting them, and a write waits in SQLite's busy handler as before.
HELD: ContextVar[list | None] = ContextVar("write_turns_held", default=None)


def take_for_unit_of_work(turn: WriteTurn | None) -> None:
    held = HELD.get()
    if turn is None or held is None:
        return
    turn.acquire()
    held.append(turn)


def give_back(held: list) -> None:
    while held:
        held.pop().release()
