"""A word in shared memory that every committed change rewrites, so a check can tell in a fraction
of a microsecond that nothing was written since it last read the tenant's revision.

SQLite lives on one machine, and every process that writes to it goes through this code, which
rewrites the signal after each commit that advanced a revision (`committed`, called by the
after-commit hook of scim_authz/pdp/changes.py). A check reads the signal first and the
database revision only when the signal moved: the same answer as reading the revision on every
check, since a change is announced after its commit and before its response goes out, so any
check that starts after a writer was answered sees it.

PostgreSQL can be shared by instances on several machines, which a file cannot reach: there each
process listens for the revisions PostgreSQL announces (scim_authz/pdp/revision_feed.py).
AUTHZ_REVISION_SIGNAL=none reads the revision on every check instead, on either database.
"""
from __future__ import annotations

import logging
import mmap
import os
import threading
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.orm import Session

from scim_authz.authz.changes import CREDENTIAL
from scim_authz.db.write_turn import sqlite_sidecar
from scim_authz.pdp import revision_feed
from scim_authz.pdp.revision_feed import RevisionFeed

log = logging.getLogger("scim_authz.pdp.revision_signal")
SIZE = 16

_signals: dict[str, FileSignal] = {}
_feeds: WeakKeyDictionary[SAEngine, RevisionFeed] = WeakKeyDictionary()
_by_engine: WeakKeyDictionary[SAEngine, FileSignal | None] = WeakKeyDictionary()
_lock = threading.Lock()


class FileSignal:
    """Sixteen bytes of a file mapped into every process that uses the database: eight that every
    committed change rewrites, and eight that only a change of credentials (or a tenant disabled)
    rewrites, so SCIM requests trust a secret they verified without catching up any policy."""

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
        return self._map[:8]

    def credentials_token(self) -> bytes:
        """Different from any earlier value once a change of credentials has been committed."""
        return self._map[8:SIZE]

    def announce(self, credentials: bool = True) -> None:
        """Say that a change was committed: fresh random values (any reader's last value differs)."""
        self._map[:SIZE if credentials else 8] = os.urandom(SIZE if credentials else 8)


def for_engine(engine: SAEngine, enabled: bool = True) -> FileSignal | None:
    """The engine's signal (one per database file and process), or None where there is none."""
    if not enabled:
        return None
    known = _by_engine.get(engine, False)  # after every commit: resolving the path costs more than the rest
    if known is not False:
        return known
    path = sqlite_sidecar(engine, "-revision")
    if path is None:
        _by_engine[engine] = None
        return None
    with _lock:
        sig = _signals.get(path)
        if sig is None:
            sig = _signals[path] = FileSignal(path)
        _by_engine[engine] = sig
        return sig


def feed_for(engine: SAEngine, enabled: bool = True) -> RevisionFeed | None:
    """The engine's revision feed (one per database and process) on PostgreSQL, or None."""
    if not enabled or engine.dialect.name != "postgresql":
        return None
    with _lock:
        feed = _feeds.get(engine)
        if feed is None:
            feed = _feeds[engine] = revision_feed.for_engine(engine)
        return feed


def forget(engine: SAEngine) -> None:
    """Stop and drop the engine's feed (when an app is closed)."""
    with _lock:
        feed = _feeds.pop(engine, None)
    if feed is not None:
        feed.close()


def committed(session: Session, made: dict[int, int], kinds: dict[int, set[str]] | None = None) -> None:
    """A transaction that advanced revisions (`made`: tenant -> revision; `kinds`: tenant -> what
    changed) has committed: say so to this process's checks (the feed) and to every process on this
    machine (the file)."""
    bind = session.get_bind()
    committed_on(bind if isinstance(bind, SAEngine) else bind.engine, made, kinds)


def committed_on(engine: SAEngine, made: dict[int, int], kinds: dict[int, set[str]] | None = None) -> None:
    """`committed`, for a transaction on one of `engine`'s connections."""
    feed = _feeds.get(engine)
    if feed is not None:
        for tenant_id, revision in made.items():
            feed.heard(tenant_id, revision, (kinds or {}).get(tenant_id))
    sig = for_engine(engine)
    if sig is not None:
        sig.announce(credentials=kinds is None or any(CREDENTIAL in k for k in kinds.values()))
