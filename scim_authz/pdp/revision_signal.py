"""A word in shared memory that every committed change rewrites, so a check can tell in a fraction
of a microsecond that nothing was written since it last read the tenant's revision.

SQLite lives on one machine, and every process that writes to it goes through this code, which
rewrites the signal after each commit that advanced a revision (`changes.record` marks the
session; the after-commit hook below announces it). A check reads the signal first and the
database revision only when the signal moved: the same answer as reading the revision on every
check, since a change is announced after its commit and before its response goes out, so any
check that starts after a writer was answered sees it.

PostgreSQL can be shared by instances on several machines, which a file cannot reach: there
every check reads the revision. AUTHZ_REVISION_SIGNAL=none does that on SQLite too.
"""
from __future__ import annotations

import logging
import mmap
import os
import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.orm import Session

from scim_authz.db.setup import sqlite_sidecar

log = logging.getLogger("scim_authz.pdp.revision_signal")
SESSION_FLAG = "scim_authz.revision_advanced"
SIZE = 8

_signals: dict[str, FileSignal] = {}
_lock = threading.Lock()


class FileSignal:
    """Eight bytes of a file mapped into every process that uses the database."""

    def __init__(self, path: str):
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < SIZE:
                os.pwrite(fd, os.urandom(SIZE), 0)
            self._map = mmap.mmap(fd, SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)

    def token(self) -> bytes:
        """The current value: different from any earlier one once a change has been committed."""
        return self._map[:SIZE]

    def announce(self) -> None:
        """Say that a change was committed: a fresh random value (any reader's last value differs)."""
        self._map[:SIZE] = os.urandom(SIZE)


def for_engine(engine: SAEngine, enabled: bool = True) -> FileSignal | None:
    """The engine's signal (one per database file and process), or None where there is none."""
    path = sqlite_sidecar(engine, "-revision") if enabled else None
    if path is None:
        return None
    with _lock:
        sig = _signals.get(path)
        if sig is None:
            sig = _signals[path] = FileSignal(path)
        return sig


def mark_advanced(session: Session) -> None:
    """Called where a revision advances: announce it when this transaction commits."""
    session.info[SESSION_FLAG] = True


@event.listens_for(Session, "after_commit")
def _announce(session: Session) -> None:
    if not session.info.pop(SESSION_FLAG, False):
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, SAEngine) else bind.engine
    sig = for_engine(engine)
    if sig is not None:
        sig.announce()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(SESSION_FLAG, None)
