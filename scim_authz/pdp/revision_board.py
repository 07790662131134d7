"""Where a process keeps the newest revision heard per tenant (scim_authz/pdp/revision_feed.py):
in its own memory, or in memory shared with the workers forked from it.

Were every gunicorn worker to listen to PostgreSQL's notifications itself, every write would wake
one database session and one thread per worker. With a shared board (`RevisionFeed.share()`,
called by the master before it forks) only the master listens; what it hears, and what any worker
commits, is written to one table in shared memory that every worker reads.

The table: a header (whether the listener is live, when it last said so, how many credential
changes were heard, whether the table is full) and 65,536 slots of (tenant, newest revision, newest
revision that changed a credential), found by linear probing. Writers take a lock (a thread lock,
then a POSIX record lock, which the kernel lets go of if the process dies); readers take none.
Revisions only grow, and a slot's tenant is written after its revisions, so a reader sees either
a revision that was current a moment ago (as if it had read a moment earlier: the notification
had not arrived yet) or the current one. A reader counts the listener live only while it says so
and has said so in the last `stale_seconds`: a hung master is not trusted for long.
"""
from __future__ import annotations

import fcntl
import mmap
import os
import struct
import tempfile
import threading
import time
import weakref
from contextlib import contextmanager

SLOTS = 1 << 16
_HEADER = struct.Struct("<qqqq")  # live, heartbeat (monotonic ns), credential changes, full
_SLOT = struct.Struct("<qqq")  # tenant (0: empty), revision, credentials revision
_BASE = 64


class LocalBoard:
    """This process's own memory (no listener shared with anyone)."""

    def __init__(self):
        self.known: dict[int, int] = {}
        self.credentials: dict[int, int] = {}  # tenant -> newest revision that changed a credential
        self.credential_changes = 0  # how many such revisions were heard, of any tenant
        self.live = False

    def heard(self, tenant_id: int, revision: int, credentials: bool) -> None:
        if credentials and revision > self.credentials.get(tenant_id, 0):
            self.credentials[tenant_id] = revision
            self.credential_changes += 1
        if revision > self.known.get(tenant_id, 0):
            self.known[tenant_id] = revision

    def newest(self, tenant_id: int) -> int | None:
        return self.known.get(tenant_id, 0)

    def credentials_changed(self, tenant_id: int) -> int | None:
        return self.credentials.get(tenant_id, 0)

    def beat(self) -> None:
        pass


_boards: weakref.WeakSet[SharedBoard] = weakref.WeakSet()


def _after_fork() -> None:
    for board in _boards:
        board._threads = threading.Lock()  # (one another thread of the parent held stays held)


os.register_at_fork(after_in_child=_after_fork)


class SharedBoard:
    """Anonymous shared memory, inherited by the processes forked after it was made."""

    def __init__(self, stale_seconds: float, slots: int = SLOTS):
        self.stale_ns = int(stale_seconds * 1e9)
        self.slots = slots
        self._map = mmap.mmap(-1, _BASE + slots * _SLOT.size, flags=mmap.MAP_SHARED)
        self._lockfile = tempfile.TemporaryFile()  # (unlinked: a record lock on it is all it is for)
        self._threads = threading.Lock()
        _boards.add(self)

    # ---- header ------------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        live, beat, _, _ = _HEADER.unpack_from(self._map, 0)
        return live == 1 and time.monotonic_ns() - beat < self.stale_ns

    @live.setter
    def live(self, value: bool) -> None:
        with self._locked():
            _, _, changes, full = _HEADER.unpack_from(self._map, 0)
            _HEADER.pack_into(self._map, 0, 1 if value else 0, time.monotonic_ns(), changes, full)

    def beat(self) -> None:
        """The listener is still there."""
        with self._locked():
            live, _, changes, full = _HEADER.unpack_from(self._map, 0)
            _HEADER.pack_into(self._map, 0, live, time.monotonic_ns(), changes, full)

    @property
    def credential_changes(self) -> int:
        return _HEADER.unpack_from(self._map, 0)[2]

    # ---- slots -------------------------------------------------------------------------------

    def _find(self, tenant_id: int) -> tuple[int, bool]:
        """(the slot's offset, whether it holds the tenant); -1 when the table is full."""
        slots = self.slots
        start = (tenant_id * 2654435761) % slots
        for i in range(slots):
            offset = _BASE + ((start + i) % slots) * _SLOT.size
            key = struct.unpack_from("<q", self._map, offset)[0]
            if key == tenant_id:
                return offset, True
            if key == 0:
                return offset, False
        return -1, False

    def heard(self, tenant_id: int, revision: int, credentials: bool) -> None:
        with self._locked():
            offset, found = self._find(tenant_id)
            if offset < 0:
                live, beat, changes, _ = _HEADER.unpack_from(self._map, 0)
                _HEADER.pack_into(self._map, 0, live, beat, changes, 1)  # full: unknown tenants read the database
                return
            _, known, creds = _SLOT.unpack_from(self._map, offset) if found else (0, 0, 0)
            if credentials and revision > creds:
                creds = revision
                live, beat, changes, full = _HEADER.unpack_from(self._map, 0)
                _HEADER.pack_into(self._map, 0, live, beat, changes + 1, full)
            # The revisions first, the tenant last: a reader that finds the tenant finds them.
            struct.pack_into("<qq", self._map, offset + 8, max(known, revision), creds)
            if not found:
                struct.pack_into("<q", self._map, offset, tenant_id)

    def _read(self, tenant_id: int, field: int) -> int | None:
        offset, found = self._find(tenant_id)
        if found:
            return _SLOT.unpack_from(self._map, offset)[field]
        if offset < 0 or _HEADER.unpack_from(self._map, 0)[3]:
            return None  # not kept for want of room: only the database knows
        return 0

    def newest(self, tenant_id: int) -> int | None:
        return self._read(tenant_id, 1)

    def credentials_changed(self, tenant_id: int) -> int | None:
        return self._read(tenant_id, 2)

    @contextmanager
    def _locked(self):
        """Writers one at a time: this process's threads, then the processes (a record lock, which
        the kernel lets go of if its process dies)."""
        with self._threads:
            fcntl.lockf(self._lockfile, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.lockf(self._lockfile, fcntl.LOCK_UN)
