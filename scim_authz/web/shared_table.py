"""A small fixed-size table in memory shared by every worker process of one instance.

It is made when the app is (scim_authz.create_app). gunicorn loads the app in its master and forks
the workers from it (preload_app in config/gunicorn.conf.py), so each worker inherits the same
MAP_SHARED mapping and the same lock: a count kept here is one count for the whole instance. A
process that made its own app (no preload, the test server) has a table of its own, which still
works, per process. Several instances do not share it: for that, a store they all reach (Redis,
the database) would take this table's place behind scim_authz.web.rate_limit.

Each record is a 64-bit key (a hash; 0 marks a free slot), a value and a stamp (when the record
was last written), 24 bytes. A key lives in one of `probe` slots starting at its hash's index:
lookups read those slots in one go and never chain further, so a full table costs no more than an
empty one, and making room evicts the slot written longest ago. Memory is bounded by `slots`.
Nothing is ever deleted (a record is reset to a value meaning "nothing"), so a free slot at a
key's index tells at once that the key has no record.
"""
from __future__ import annotations

import fcntl
import mmap
import struct
import tempfile
import threading

_SLOT = struct.Struct("=Qdd")  # 24 bytes; this machine's byte order, as the table never leaves it
_unpack_slot, _pack_slot = _SLOT.unpack_from, _SLOT.pack_into
_MASK64 = (1 << 64) - 1


def key_of(*parts) -> int:
    """A table key for `parts` (strings and integers). Python's hash: fast, and not predictable
    from outside, so nobody can aim many keys at one slot. Its seed is per interpreter, which
    forked workers share; a process started apart makes its own table anyway."""
    return (hash(parts) & _MASK64) or 1


class _Lock:
    """Excludes the other threads of this process, then the other processes.

    The processes' lock is a POSIX record lock (lockf) on a private temporary file: the kernel
    drops it when its holder dies, so a worker killed in the middle of an update (gunicorn's
    timeout) cannot leave the others waiting forever, as a semaphore would. Record locks belong to
    a process, not a thread, hence the thread lock in front for threaded workers."""

    __slots__ = ("_thread", "_file", "_fd")

    def __init__(self):
        self._thread = threading.Lock()
        self._file = tempfile.TemporaryFile()  # unlinked at once; the open descriptor is all we need
        self._fd = self._file.fileno()

    def __enter__(self):
        self._thread.acquire()
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise

    def __exit__(self, *exc):
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread.release()


class SharedTable:
    """Records by key in shared memory. `find` and `store` only under `with table.lock:`."""

    def __init__(self, slots: int = 65_536, probe: int = 8):
        if slots < 1 or probe < 1:
            raise ValueError("a shared table needs at least one slot and a probe of one")
        self.slots = 1 << max(0, slots - 1).bit_length()  # a power of two: the index is a mask
        self.probe = probe
        # `probe` spare slots at the end, so a key's run of slots never wraps around.
        self._mem = mmap.mmap(-1, (self.slots + probe) * _SLOT.size, flags=mmap.MAP_SHARED)
        self._run = struct.Struct("=" + "Qdd" * probe)
        self._mask = self.slots - 1
        self.lock = _Lock()

    def size_bytes(self) -> int:
        return len(self._mem)

    def find(self, key: int) -> tuple[int, float | None, float]:
        """Where `key`'s record is, its value and its stamp; value None when it has none, and then
        the slot to write it into: a free one, or else the one written longest ago."""
        first = key & self._mask
        k, value, stamp = _unpack_slot(self._mem, first * 24)
        if k == key:  # where nearly every key is while the table is not crowded
            return first, value, stamp
        if k == 0:  # slots are never emptied, so no key whose run starts here was ever stored
            return first, None, 0.0
        run = self._run.unpack_from(self._mem, first * 24)
        keys = run[0::3]
        if key in keys:
            i = keys.index(key)
            return first + i, run[3 * i + 1], run[3 * i + 2]
        if 0 in keys:  # room without evicting anyone
            return first + keys.index(0), None, 0.0
        stamps = run[2::3]
        return first + stamps.index(min(stamps)), None, 0.0

    def store(self, slot: int, key: int, value: float, stamp: float) -> None:
        _pack_slot(self._mem, slot * 24, key, value, stamp)
