"""Each worker process of a decision point is a whole decision point: its engine, its syncer, its
decision spool, and a directory of its own under the data directory (`worker-<n>`), claimed with an
exclusive lock held for the process's life. A worker that replaces one that died takes the slot it
left, with its copy on disk, and starts from there."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

MAX_SLOTS = 256
_held: list[int] = []  # the lock's descriptor, kept open for the process's life


def claim(data_dir: Path) -> Path:
    """The first free slot directory under `data_dir`, now this process's."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    for n in range(MAX_SLOTS):
        fd = os.open(data_dir / f"worker-{n}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _held.append(fd)
        slot = data_dir / f"worker-{n}"
        slot.mkdir(exist_ok=True)
        return slot
    raise RuntimeError(f"{MAX_SLOTS} workers already hold slots of {data_dir}")


def orphans(data_dir: Path, own: Path) -> list[Path]:
    """The files left in slots no live process holds (a worker that is gone, or fewer workers than
    before), for the caller to take over; each such slot is locked while it is looked at."""
    found = []
    for lock in sorted(Path(data_dir).glob("worker-*.lock")):
        slot = lock.with_suffix("")
        if slot == own or not slot.is_dir():
            continue
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live worker's
            found += sorted(p for p in slot.iterdir() if p.is_file())
        finally:
            os.close(fd)
    return found
